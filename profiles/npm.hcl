# npm and yarn installs: the default profile plus the public npm and yarn registries and their caches.
#
# Enough for `npm install`, `npm ci`, `yarn install` of public packages.
# ~/.npmrc stays hidden (default profile): publishing tokens are not needed
# to install. Add private registries in your own policy with extends = ["npm"].
extends = ["default"]

network {
  allowed_domains = [
    "registry.npmjs.org:443",
    "registry.yarnpkg.com:443",
    "repo.yarnpkg.com:443",
  ]
}

filesystem {
  # Download caches, so repeated installs do not refetch everything.
  allow_write = [
    "~/.npm",
    "~/.cache/yarn",
    "~/.yarn/berry",
  ]
}
