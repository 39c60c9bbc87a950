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
# working directory is read-only. It extends read-only, whose credential
# stores it hides too.
extends = ["read-only"]

network {
  allowed_domains = []
}

filesystem {
  deny_read = [
    # Whole per-user trees of application configuration, state and caches.
    "~/.config",
    "~/.local/share",
    "~/.local/state",
    "~/.cache",
    "~/.pki",

    # Host keys of the SSH server (readable when fence runs as root).
    "/etc/ssh",
  ]
}
