# Cargo builds: the default profile plus crates.io (sparse index, API and downloads) and Cargo's home, less what runs or configures later.
#
# Enough for `cargo fetch`, `cargo build` and `cargo test` of crates from
# crates.io with the default sparse index. Cargo writes its caches
# (~/.cargo/registry, ~/.cargo/git) and, next to them at the top of
# ~/.cargo, the lock files and the cache tracker it creates on first use
# (.package-cache, .global-cache), so ~/.cargo is writable except:
#   - ~/.cargo/bin: `cargo install` puts programs there, usually on PATH;
#   - ~/.cargo/config.toml (and config): build.rustc-wrapper and similar
#     settings run programs on the host's next build;
#   - ~/.cargo/env, env.fish, env.nu: rustup's files that shell start-up
#     files source;
#   - ~/.cargo/credentials.toml (and credentials): hidden, the default
#     profile keeps registry tokens from being read at all.
# Left out: git dependencies (add the git profile) and rustup installing a
# toolchain that rust-toolchain.toml asks for (~/.rustup, its downloads).
extends = ["default"]

network {
  allowed_domains = [
    "index.crates.io:443",
    "static.crates.io:443",
    "crates.io:443",
  ]
}

filesystem {
  allow_write = [
    "~/.cargo",
  ]
  deny_write = [
    "~/.cargo/bin",
    "~/.cargo/config.toml",
    "~/.cargo/config",
    "~/.cargo/env",
    "~/.cargo/env.fish",
    "~/.cargo/env.nu",
  ]
}
