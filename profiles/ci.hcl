# CI jobs: the registries and caches of the package-manager profiles together (npm, yarn, pnpm, pip, uv, Poetry, Go, Cargo, Maven, Gradle, Bundler) and git over https.
#
# For the install, build and test steps of a CI job that uses any of the
# common ecosystems: each one's registries (port 443 only) and caches, as
# its own profile allows them (see that profile for why each is there),
# and the git profile's hosts for git dependencies. What the default
# profile hides stays hidden, and credentials in the environment
# (*_TOKEN, …) do not reach the command unless your policy allows them.
# Steps that publish or deploy need their own, narrower policy.
#
# The lists repeat the tool profiles rather than extend them all (their
# shared hosts would be duplicate rules); a test checks that this profile
# allows everything each of them allows and denies what each denies.
extends = ["default"]

network {
  allowed_domains = [
    # npm, yarn, pnpm
    "registry.npmjs.org:443",
    "registry.yarnpkg.com:443",
    "repo.yarnpkg.com:443",
    # pip, uv, Poetry
    "pypi.org:443",
    "files.pythonhosted.org:443",
    # Go
    "proxy.golang.org:443",
    "sum.golang.org:443",
    # Cargo
    "index.crates.io:443",
    "static.crates.io:443",
    "crates.io:443",
    # Maven, Gradle
    "repo.maven.apache.org:443",
    "repo1.maven.org:443",
    "services.gradle.org:443",
    "downloads.gradle.org:443",
    "downloads.gradle-dn.com:443",
    "plugins.gradle.org:443",
    "plugins-artifacts.gradle.org:443",
    "dl.google.com:443",
    "maven.google.com:443",
    # Bundler
    "rubygems.org:443",
    "index.rubygems.org:443",
    # git
    "github.com:443",
    "gitlab.com:443",
    "bitbucket.org:443",
    "codeberg.org:443",
    "git.sr.ht:443",
  ]
}

filesystem {
  deny_read = [
    "~/.local/share/uv/credentials",
    "~/.config/pypoetry/auth.toml",
    "~/.m2/settings-security.xml",
    "~/.bundle/config",
  ]

  allow_write = [
    # npm, yarn, pnpm
    "~/.npm",
    "~/.cache/yarn",
    "~/.yarn/berry",
    "~/.cache/node/corepack",
    "~/.local/share/pnpm/store",
    "~/.cache/pnpm",
    "~/.local/state/pnpm",
    # pip, uv, Poetry
    "~/.cache/pip",
    "~/.cache/uv",
    "~/.cache/pypoetry",
    # Go
    "~/go/pkg/mod",
    "~/go/pkg/sumdb",
    "~/.cache/go-build",
    # Cargo (less what runs or configures later: deny_write below)
    "~/.cargo",
    # Maven, Gradle
    "~/.m2/repository",
    "~/.m2/wrapper",
    "~/.gradle/caches",
    "~/.gradle/wrapper",
    "~/.gradle/native",
    "~/.gradle/daemon",
    "~/.gradle/.tmp",
    "~/.gradle/notifications",
    # Bundler
    "~/.bundle/cache",
    "~/.cache/gem",
    "~/.gem/specs",
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
