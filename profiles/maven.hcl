# Maven builds: the default profile plus Maven Central and the local repository ~/.m2/repository.
#
# Enough for `mvn package`, `mvn test` and `./mvnw` (its distribution goes
# to ~/.m2/wrapper) with dependencies and plugins from Maven Central.
# ~/.m2/settings.xml (default profile) and ~/.m2/settings-security.xml (the
# master password that decrypts it) are hidden: they hold repository
# passwords. ~/.mavenrc, which the mvn script sources, stays read-only.
#
# Jars written to ~/.m2/repository are run by the host's later builds: a
# cache the sandbox can fill is a cache the sandbox can poison, unless the
# build checks them.
extends = ["default"]

network {
  allowed_domains = [
    "repo.maven.apache.org:443",
    "repo1.maven.org:443",
  ]
}

filesystem {
  deny_read = [
    "~/.m2/settings-security.xml",
  ]

  allow_write = [
    "~/.m2/repository",
    "~/.m2/wrapper",
  ]
}
