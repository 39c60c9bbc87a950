# pnpm installs: the default profile plus the npm registry and pnpm's store, cache and state.
#
# Enough for `pnpm install` and `pnpm add` of public packages, with pnpm on
# PATH or started by corepack (~/.cache/node/corepack). On Linux pnpm keeps
# its content-addressed store in ~/.local/share/pnpm/store, package
# metadata in ~/.cache/pnpm and its update check in ~/.local/state/pnpm.
# ~/.local/share/pnpm itself stays read-only: it is PNPM_HOME, where
# `pnpm add -g` puts programs on PATH. ~/.npmrc stays hidden (default
# profile): pnpm reads registry tokens from it, and installing public
# packages needs none.
#
# pnpm hard-links files from the store into node_modules. Inside fence the
# store and the project are separate mounts, and a hard link cannot cross
# mounts: pnpm then copies, or keeps a store next to the project; set
# store-dir (or package-import-method) in the project's .npmrc to choose.
extends = ["default"]

network {
  allowed_domains = [
    "registry.npmjs.org:443",
  ]
}

filesystem {
  allow_write = [
    "~/.local/share/pnpm/store",
    "~/.cache/pnpm",
    "~/.local/state/pnpm",
    "~/.cache/node/corepack",
  ]
}
