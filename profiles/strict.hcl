# Untrusted code, minimal reach: no network, the home directory's configuration, caches and data hidden, writes only to a private temp dir.
#
# For running a program you do not trust at all (a downloaded binary, a
# suspicious script) against a project it may read but not change. Beyond
# read-only, whole directories where applications keep tokens and sessions
# that no list can name one by one are hidden: ~/.config, ~/.local/share,
# ~/.local/state, ~/.cache, ~/.pki. Programs that need their configuration
# there fail to read it; use read-only or default for those.
#
# The only writable place is the sandbox's private temp dir (the compiler
# adds it: an empty tmpfs, gone after the run; $TMPDIR points there); the
# working directory is read-only. The default's credential stores are
# repeated below (a layer only adds, so this cannot extend default); a test
# keeps this list a superset of the default's.

network {
  allowed_domains = []
}

filesystem {
  deny_read = [
    # SSH and GPG private keys and agent configuration.
    "~/.ssh",
    "~/.gnupg",

    # Cloud provider credentials and CLI sessions.
    "~/.aws",
    "~/.azure",
    "~/.config/gcloud",
    "~/.oci",
    "~/.config/doctl",
    "~/.s3cfg",
    "~/.boto",

    # Cluster and container credentials.
    "~/.kube",
    "~/.docker/config.json",
    "~/.config/containers/auth.json",

    # Infrastructure tool tokens.
    "~/.terraform.d/credentials.tfrc.json",
    "~/.vault-token",

    # Generic machine logins (curl, ftp, git over https) and database passwords.
    "~/.netrc",
    "~/.pgpass",
    "~/.my.cnf",

    # Package registry tokens (publishing rights are supply-chain keys).
    "~/.npmrc",
    "~/.yarnrc.yml",
    "~/.pypirc",
    "~/.gem/credentials",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
    "~/.m2/settings.xml",
    "~/.gradle/gradle.properties",
    "~/.nuget/NuGet/NuGet.Config",
    "~/.config/composer/auth.json",

    # Git hosting tokens.
    "~/.git-credentials",
    "~/.config/git/credentials",
    "~/.config/gh",
    "~/.config/hub",
    "~/.config/glab-cli",

    # Password managers, keyrings and sync tools that hold secrets.
    "~/.password-store",
    "~/.local/share/keyrings",
    "~/.config/op",
    "~/.config/rclone",
    "~/Library/Keychains",

    # Shell history often holds tokens pasted on a command line.
    "~/.bash_history",
    "~/.zsh_history",
    "~/.local/share/fish/fish_history",

    # Browser profiles hold session cookies for every site the user is logged in to.
    "~/.mozilla",
    "~/.config/google-chrome",
    "~/.config/chromium",
    "~/.config/BraveSoftware",
    "~/Library/Application Support/Google/Chrome",
    "~/Library/Application Support/Firefox",
    "~/Library/Cookies",

    # System password hashes (readable when fence runs as root).
    "/etc/shadow",
    "/etc/gshadow",

    # Whole per-user trees of application configuration, state and caches.
    "~/.config",
    "~/.local/share",
    "~/.local/state",
    "~/.cache",
    "~/.pki",

    # Host keys of the SSH server (readable when fence runs as root).
    "/etc/ssh",
  ]

  allow_write = []
}

command {
  use_defaults = true
}
