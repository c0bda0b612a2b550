# swarmdns build and test entry points. `make test` is what CI runs.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/swarmdns/swarmdns/cmd/swarmdns/cli.Version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: build test unit fuzz lint

# build makes a static binary at ./swarmdns.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o swarmdns ./cmd/swarmdns

# test runs everything: vet, every test (unit and real-engine, with -race),
# then each fuzz target for a bounded time.
test: unit fuzz

# The end-to-end tests run after the other packages, on their own, so that
# no other package's containers churn on the engine while they run Swarm.
unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -race -count=1 -timeout 60m ./e2e

# fuzz runs every fuzz target for $(FUZZTIME) on top of its committed corpus.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
