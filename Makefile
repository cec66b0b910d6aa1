# strangler — build, test, benchmark.
GO ?= go
PKGS ?= ./...
TEST_TIMEOUT ?= 20m

.PHONY: build test test-short bench bench-go lint fuzz demo

build:
	$(GO) build -o bin/strangler ./cmd/strangler

# The whole suite, race detector on, against the real PostgreSQL
# (STRANGLER_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

# Load harness: the upstream directly and through the proxy in the same run.
bench:
	$(GO) run ./cmd/strangler-bench

# Go micro-benchmarks of the hot path.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

# Short fuzzing pass over every fuzz target (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

demo:
	$(GO) run ./cmd/strangler demo
