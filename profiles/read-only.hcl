# Look, don't touch: no network, reads allowed except credential stores, no writes but a private temp dir.
#
# For reviewing a project, running linters, `git log`/`git diff`, or a
# test suite that writes nothing: the default profile without its write
# access to the working directory. The only writable place is the
# sandbox's private temp dir (the compiler adds it: an empty tmpfs, gone
# after the run; $TMPDIR points there).
#
# It is the base of the default and strict profiles (a layer only adds:
# default adds writing the working directory, strict hides more), so the
# credential stores listed here are hidden in every shipped profile.

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
  ]

  # Nothing: writes are denied unless a rule allows them.
  allow_write = []
}

command {
  use_defaults = true
}
