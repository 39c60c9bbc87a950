# fence — build, run and test. `make help` lists the targets.

GO       ?= go
BIN      ?= bin/fence
FUZZTIME ?= 10m
# The version stamped into the binary (fence version); "dev" outside git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

# `make run` shows what fence would enforce with the default policy
# (~/.config/fence/fence.hcl, ~/.fence.json, else the shipped "default"
# profile). Override ARGS to run anything else: make run ARGS='profiles'.
EXPLAIN  := 'read ~/.ssh/id_rsa' 'net example.com:443' 'write ./x' 'exec git push'
ARGS     ?=

.PHONY: help setup build run test golden fuzz lint bench clean

help:
	@echo "make build    build $(BIN)"
	@echo "make run      build, then compile and explain the default policy (ARGS=… to run other arguments)"
	@echo "make test     go vet and every test"
	@echo "make golden   rewrite the targets' golden files (review the diff)"
	@echo "make fuzz     FuzzParseRule and FuzzLoadPolicy, FUZZTIME=$(FUZZTIME) each"
	@echo "make lint     gofmt and go vet"
	@echo "make bench    benchmarks"
	@echo "make setup    install the system packages the build needs (Debian)"

setup:
	.ci/setup

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fence

run: build
ifeq ($(strip $(ARGS)),)
	./$(BIN) compile -t ir
	./$(BIN) explain $(EXPLAIN)
else
	./$(BIN) $(ARGS)
endif

test:
	$(GO) vet ./...
	$(GO) test ./...

# Only the test packages that use internal/golden know the -update flag; a
# package without it would fail on the flag, so they are picked by import.
GOLDEN_PKGS = $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./targets/... | awk '/internal\/golden/ {print $$1}')

golden:
	$(GO) test $(GOLDEN_PKGS) -update

fuzz:
	$(GO) test ./lang/rule -run '^$$' -fuzz '^FuzzParseRule$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lang -run '^$$' -fuzz '^FuzzLoadPolicy$$' -fuzztime $(FUZZTIME)

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
