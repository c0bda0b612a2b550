# swarmdns build and test entry points. `make test` is what CI runs.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/swarmdns/swarmdns/cmd/swarmdns/cli.Version=$(VERSION)

.PHONY: build test unit fuzz lint

# build makes a static binary at ./swarmdns.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o swarmdns ./cmd/swarmdns

# test runs everything: vet, every test (unit and real-engine, with -race),
# then each fuzz target for its execution budget.
test: unit fuzz

# The end-to-end tests run after the other packages, on their own, so that
# no other package's containers churn on the engine while they run Swarm.
unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -race -count=1 -timeout 60m ./e2e

# fuzz runs every fuzz target for its execution-count budget (about 20 s
# each; internal/fuzzrun/budgets) on top of its committed corpus, and fails
# only on a finding (or a target that does not build). FUZZ_SCALE=10 fuzzes
# ten times longer. A count, not -fuzztime=20s: see internal/fuzzrun/run.sh.
fuzz:
	GO=$(GO) sh internal/fuzzrun/run.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
