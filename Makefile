# binlog-replay build and test entry points. `make test` is what CI runs
# (.ci/run); the tests start their own MariaDB servers (package sandbox).

GO ?= go

.PHONY: test build fmt-check vet

test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then \
		echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/binlog-replay ./cmd/binlog-replay

# demo: placeholder; the lead adds the demo target here.
