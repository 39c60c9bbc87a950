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
#
# The credential stores it hides are the read-only profile's: this profile
# is read-only plus writing the working directory.
extends = ["read-only"]

network {
  # Nothing: network access is denied unless a rule allows a host. Profiles
  # that extend this one (npm, pip, go, git) add the hosts they need.
  allowed_domains = []
}

filesystem {
  # The working directory is the project being built; nothing else in the
  # home directory is writable. The private temp dir is added by the
  # compiler.
  allow_write = ["."]
  # Started in /, a system directory (/etc, /usr, …) or the home directory,
  # "." would be all of it: fence then refuses unless a rule of your own
  # names that directory (--allow 'write .', or allow_write in your policy).
}
