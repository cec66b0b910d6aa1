# strangler — build, test, benchmark.
GO ?= go
PKGS ?= ./...
TEST_TIMEOUT ?= 20m

# Version and commit baked into the binary (strangler version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test bench bench-go lint fuzz demo

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/strangler ./cmd/strangler

# The whole suite, race detector on, against the real PostgreSQL
# (STRANGLER_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# Load harness: the upstream directly and through the proxy in the same run
# (see BENCHMARKS.md). BENCH_FLAGS, e.g. "-concurrency 1 -duration 5s".
BENCH_FLAGS ?=
bench:
	$(GO) run ./cmd/strangler-bench $(BENCH_FLAGS)

# Go micro-benchmarks of the hot path.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

# Short fuzzing pass over every fuzz target (FUZZTIME per target). A short
# minimization budget keeps a large interesting input from eating the pass.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

demo:
	$(GO) run ./cmd/strangler demo
