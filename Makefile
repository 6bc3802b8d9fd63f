# binlog-replay build and test entry points. `make test` is what CI runs
# (.ci/run); the tests start their own MariaDB servers (package sandbox).

GO ?= go

# The external corpus of real binlogs from other projects (docs/testing.md,
# Fixtures) is not in the repository: CI lays it beside the clone. Tests
# that need it fail under CI=true when it is missing, and skip elsewhere.
BINLOG_REPLAY_FIXTURES ?= $(wildcard $(abspath $(CURDIR)/..)/shared/fixtures)
export BINLOG_REPLAY_FIXTURES

.PHONY: test build fmt-check vet demo bench fuzz

test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_SHORT)

# fuzz: every fuzzer of the module (each `func FuzzX(f *testing.F)` in a
# test file), one after the other, FUZZTIME each (docs/testing.md,
# Fuzzing); `make test` runs each for FUZZTIME_SHORT. A failing input is
# written to the package's testdata/fuzz/FuzzX/ and stops the run.
FUZZTIME ?= 60s
FUZZTIME_SHORT ?= 2s
fuzz:
	@set -e; grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' . | sort | \
	while IFS=: read -r file decl; do \
		name=$${decl#func }; name=$${name%%(*}; dir=$$(dirname "$$file"); \
		echo "== $$name ($$dir, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -timeout 30m "$$dir" || exit 1; \
	done

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then \
		echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/binlog-replay ./cmd/binlog-replay

# demo: installs MariaDB if missing, then a short verified benchmark on this
# machine (about two minutes on 2 cores): mariadb-binlog | mariadb, binlog-replay
# and MariaDB's own parallel replication on the same binlogs and base, every
# target checked against the source; bin/demo.png charts the apply times.
demo: build
	bash scripts/install-mariadb.sh
	./bin/binlog-replay bench --profiles oltp,hot --workers 1,4,8 --scale 20000 --txns 15000 --threads 8 \
		--native --plot bin/demo.png

# bench: the long comparison, every profile, three runs per method (tens of
# minutes); override with e.g. `make bench BENCH_FLAGS='--profiles oltp --repeat 5'`.
BENCH_FLAGS ?= --profiles all --workers 1,4,8,16 --native --repeat 3
bench: build
	bash scripts/install-mariadb.sh
	./bin/binlog-replay bench $(BENCH_FLAGS) --plot bin/bench.png
