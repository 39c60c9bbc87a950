# yarn installs (classic and berry): the npm profile plus corepack's cache, where corepack keeps the yarn it runs.
#
# Enough for `yarn install` and `yarn add` of public packages with yarn 1
# (registry.yarnpkg.com, cache ~/.cache/yarn) and yarn 2+ (the global cache
# ~/.yarn/berry, on by default since yarn 4), with yarn on PATH or started
# by corepack (`corepack enable`), which fetches the yarn release a
# project's packageManager field names into ~/.cache/node/corepack.
# ~/.yarnrc.yml and ~/.npmrc stay hidden (default profile): they hold
# registry tokens. ~/.yarnrc (yarn 1's own settings, e.g. yarn-path, a
# program every later yarn runs) stays read-only.
extends = ["npm"]

filesystem {
  # What corepack downloads here the host's yarn runs later: a cache the
  # sandbox can fill is a cache the sandbox can poison, as with every
  # profile's caches (the lockfile's checksums guard the packages).
  allow_write = [
    "~/.cache/node/corepack",
  ]
}
