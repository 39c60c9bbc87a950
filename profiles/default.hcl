# The baseline: no network, reads allowed except credential stores, writes only to the working directory.
#
# fence uses this profile when no -p is given and neither
# ~/.config/fence/fence.hcl nor ~/.fence.json exists. The other shipped
# profiles extend it, so everything hidden here stays hidden there.
#
# Besides what is written here, the compiler always adds:
#   - write access to the sandbox's private temp dir;
#   - write protection for shell start-up files, git hooks and config, editor
#     and agent configuration, and fence's own policies (see `fence explain`);
#   - command.use_defaults: the built-in list of dangerous commands.

network {
  # Nothing: network access is denied unless a rule allows a host. Profiles
  # that extend this one (npm, pip, go, git) add the hosts they need.
  allowed_domains = []
}

filesystem {
  # Reading is allowed by default, so build tools, compilers and libraries
  # work. What is hidden are the places where a user keeps secrets that
  # grant access to something else: keys, tokens, session cookies and
  # password stores. A hidden path is also never writable.
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
  ]

  # The working directory is the project being built; nothing else in the
  # home directory is writable. The private temp dir is added by the
  # compiler.
  allow_write = ["."]
  # Started in /, a system directory (/etc, /usr, …) or the home directory,
  # "." would be all of it: fence then refuses unless a rule of your own
  # names that directory (--allow 'write .', or allow_write in your policy).
}

command {
  # Deny the built-in list of dangerous commands (shutdown, mkfs, dd if=, …).
  use_defaults = true
}
