# Go builds: the default profile plus the Go module proxy, the checksum database and Go's caches.
#
# Enough for `go mod download`, `go build` and `go test` with the default
# GOPROXY and GOSUMDB. Modules fetched directly from version control
# (GOPRIVATE, GOPROXY=direct) need the git profile or your own hosts.
extends = ["default"]

network {
  allowed_domains = [
    "proxy.golang.org:443",
    "sum.golang.org:443",
  ]
}

filesystem {
  # The module cache and the build cache at their default places. ~/go/bin
  # stays read-only: it is usually on PATH.
  allow_write = [
    "~/go/pkg/mod",
    "~/.cache/go-build",
  ]
}
