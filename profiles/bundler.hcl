# Bundler installs: the default profile plus rubygems.org (API, compact index and gem files) and RubyGems' and Bundler's caches.
#
# Enough for `bundle install` and `bundle lock` of public gems into the
# project: install with `bundle config set --local path vendor/bundle`
# (or BUNDLE_PATH=vendor/bundle), since the system's gem directory is not
# writable and ~/.gem and ~/.local/share/gem, where gems' programs go,
# stay read-only. Bundler caches the compact index in ~/.bundle/cache;
# RubyGems caches gem specifications in ~/.cache/gem (older RubyGems:
# ~/.gem/specs). ~/.bundle/config is hidden: Bundler keeps private gem
# server credentials there (BUNDLE_<HOST>); so is ~/.gem/credentials
# (default profile: the rubygems.org push key).
extends = ["default"]

network {
  allowed_domains = [
    "rubygems.org:443",
    "index.rubygems.org:443",
  ]
}

filesystem {
  deny_read = [
    "~/.bundle/config",
  ]

  allow_write = [
    "~/.bundle/cache",
    "~/.cache/gem",
    "~/.gem/specs",
  ]
}
