# Gradle builds: the default profile plus Maven Central, Google's Maven repository, the Gradle plugin portal and distributions, and Gradle's caches.
#
# Enough for `gradle build` and `./gradlew build` of projects whose
# dependencies come from mavenCentral(), google() and the plugin portal:
# the wrapper downloads its distribution into ~/.gradle/wrapper, and
# Gradle keeps dependencies in ~/.gradle/caches, native libraries in
# ~/.gradle/native and its daemon's registry and logs in ~/.gradle/daemon.
# The rest of ~/.gradle stays read-only, in particular init.d/ and
# init.gradle (scripts every later build on the host runs);
# ~/.gradle/gradle.properties is hidden (default profile: repository
# credentials and signing keys). Left out: JDK downloads for toolchains
# (~/.gradle/jdks and their hosts).
#
# Dependencies and wrapper distributions written here are run by the
# host's later builds: a cache the sandbox can fill is a cache the sandbox
# can poison, unless the build verifies them (distributionSha256Sum,
# Gradle's dependency verification).
extends = ["default"]

network {
  allowed_domains = [
    "services.gradle.org:443",
    "downloads.gradle.org:443",
    "downloads.gradle-dn.com:443",
    "plugins.gradle.org:443",
    "plugins-artifacts.gradle.org:443",
    "repo.maven.apache.org:443",
    "repo1.maven.org:443",
    "dl.google.com:443",
    "maven.google.com:443",
  ]
}

filesystem {
  allow_write = [
    "~/.gradle/caches",
    "~/.gradle/wrapper",
    "~/.gradle/native",
    "~/.gradle/daemon",
    "~/.gradle/.tmp",
    "~/.gradle/notifications",
  ]
}
