# fence — build, run and test. `make help` lists the targets.

GO       ?= go
BIN      ?= bin/fence
FUZZTIME ?= 10m
# The version stamped into the binary (fence version); "dev" outside git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# urfave_cli_no_docs leaves out the CLI library's man-page generator, which
# fence does not use: its package initialisers cost every process started
# from the binary (the in-sandbox init among them) about 0.3 ms.
TAGS     ?= urfave_cli_no_docs

# `make run` is the first thing to try: it installs what is missing
# (.ci/setup: bubblewrap, curl, …), builds bin/fence and runs a command in
# the sandbox under the shipped "default" profile. The command prints a
# greeting, tries the network (the proxy refuses it with a 403, and fence
# says which rule would allow it) and tries to write outside the working
# directory (a read-only file system). Override ARGS to run anything else:
# make run ARGS='run -p npm -- npm install'.
DEMO     := echo "hello from the sandbox (FENCE_SANDBOX=$$FENCE_SANDBOX)"; \
            curl -sS https://example.com || true; \
            touch "$$HOME/fence-was-here" || true
ARGS     ?=

.PHONY: help setup build run test golden fuzz lint bench bench-go man clean

help:
	@echo "make build    build $(BIN)"
	@echo "make run      install bubblewrap if missing, build, run a command in the sandbox (ARGS=… for other arguments)"
	@echo "make test     go vet and every test (.ci/run also runs the sandbox tests as an unprivileged user)"
	@echo "make golden   rewrite the targets' golden files and schema/fence.schema.json (review the diff)"
	@echo "make man      write the man page fence.1 from the CLI definition"
	@echo "make fuzz     FuzzParseRule, FuzzLoadPolicy and FuzzDecideArgv, FUZZTIME=$(FUZZTIME) each"
	@echo "make lint     gofmt and go vet"
	@echo "make bench    fence against the machine's floor, side by side; writes BENCHMARKS.md (BENCH_N=21 BULK_MB=500)"
	@echo "make bench-go every Go benchmark"
	@echo "make setup    install the system packages fence needs (Debian: bubblewrap, curl, …)"

setup:
	.ci/setup

build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fence

run: setup build
ifeq ($(strip $(ARGS)),)
	./$(BIN) run -p default -- sh -c '$(DEMO)'
else
	./$(BIN) $(ARGS)
endif

test:
	$(GO) vet ./...
	$(GO) test ./...

# Only the test packages that use internal/golden know the -update flag; a
# package without it would fail on the flag, so they are picked by import.
GOLDEN_PKGS = $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./targets/... ./lang | awk '/internal\/golden/ {print $$1}')

golden:
	$(GO) test $(GOLDEN_PKGS) -update

fuzz:
	$(GO) test ./lang/rule -run '^$$' -fuzz '^FuzzParseRule$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lang -run '^$$' -fuzz '^FuzzLoadPolicy$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/ir -run '^$$' -fuzz '^FuzzDecideArgv$$' -fuzztime $(FUZZTIME)

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# `make bench` measures fence against this machine's floor (bare bwrap,
# curl-like clients on the host) and writes BENCHMARKS.md; bench-go runs
# every Go benchmark.
BENCH_N  ?= 21
BULK_MB  ?= 500

bench: build
	$(GO) build -o bin/fence-bench ./internal/benchrun
	./bin/fence-bench -fence $(BIN) -out BENCHMARKS.md -n $(BENCH_N) -bulk-mb $(BULK_MB)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The man page generator (fence __man) is built only without
# urfave_cli_no_docs, so `make build`'s binary does not carry it: go run
# builds one that does.
man:
	$(GO) run ./cmd/fence __man > fence.1

clean:
	rm -rf bin
