# Go builds: the default profile plus the Go module proxy, the checksum database and Go's caches.
#
# Enough for `go mod download`, `go build` and `go test` with the default
# GOPROXY and GOSUMDB (the go command reaches the checksum database through
# the proxy when the proxy supports it, else directly). Modules fetched
# directly from version control (GOPRIVATE, GOPROXY=direct) need the git
# profile or your own hosts. With GOPATH, GOMODCACHE or GOCACHE moved
# elsewhere, extend this profile with those directories.
extends = ["default"]

network {
  allowed_domains = [
    "proxy.golang.org:443",
    "sum.golang.org:443",
  ]
}

filesystem {
  # The module cache, the checksum database's verified tree head and the
  # build cache, at their default places (GOPATH=~/go). A missing one is
  # created before the run.
  #   ~/go/pkg/sumdb: `go mod download` records the latest checksum-database
  #   tree head there and fails when it cannot ("open
  #   ~/go/pkg/sumdb/sum.golang.org/latest: no such file or directory").
  # Read-only on purpose: ~/go/bin (usually on PATH) and ~/.config/go (the
  # `go env -w` file: GOFLAGS there, e.g. -toolexec, would run on the next
  # host build; Go's local telemetry counters there are skipped silently).
  allow_write = [
    "~/go/pkg/mod",
    "~/go/pkg/sumdb",
    "~/.cache/go-build",
  ]
}
