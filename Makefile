# binlog-replay build and test entry points. `make test` is what CI runs
# (.ci/run); the tests start their own MariaDB servers (package internal/sandbox).

GO ?= go

.PHONY: test build install fmt-check vet demo bench fuzz soak

# ./replay first: the longest package (11-12 minutes on 2 cores) starts
# at once and the others run beside it, instead of starting after them.
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./replay ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_SHORT)

# fuzz: every fuzzer of the module, one after the other, FUZZTIME each
# (scripts/fuzz.sh; docs/testing.md, Fuzzing); `make test` runs each for
# FUZZTIME_SHORT. A failing input is written to the package's
# testdata/fuzz/FuzzX/ and stops the run.
FUZZTIME ?= 60s
FUZZTIME_SHORT ?= 2s
fuzz:
	GO=$(GO) bash scripts/fuzz.sh $(FUZZTIME)

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then \
		echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# build, install: `binlog-replay --version` names the git revision. The go
# command stamps it (-buildvcs=auto overrides a GOFLAGS=-buildvcs=false);
# where it cannot (a git worktree), the -X values below stand in.
GIT_REVISION := $(shell git rev-parse HEAD 2>/dev/null)
GIT_TIME := $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
GIT_MODIFIED := $(shell if [ -n "$$(git status --porcelain 2>/dev/null)" ]; then echo true; else echo false; fi)
VERSION_LDFLAGS := -X main.linkedRevision=$(GIT_REVISION) -X main.linkedTime=$(GIT_TIME) -X main.linkedModified=$(GIT_MODIFIED)
BUILD_FLAGS ?= -buildvcs=auto -ldflags '$(VERSION_LDFLAGS)'

build:
	$(GO) build $(BUILD_FLAGS) -o bin/binlog-replay ./cmd/binlog-replay

# install: into $(go env GOBIN), else $(go env GOPATH)/bin.
install:
	$(GO) install $(BUILD_FLAGS) ./cmd/binlog-replay

# demo: installs MariaDB if missing, then a short verified benchmark on this
# machine (about two minutes on 2 cores): mariadb-binlog | mariadb, binlog-replay
# and MariaDB's own parallel replication on the same binlogs and base, every
# target checked against the source; bin/demo.png charts the apply times.
demo: build
	bash scripts/install-mariadb.sh
	./bin/binlog-replay bench --profiles oltp,hot --workers 0,1,8 --scale 20000 --txns 15000 --threads 8 \
		--native --plot bin/demo.png

# bench: the long comparison, every profile, three runs per method (tens of
# minutes); override with e.g. `make bench BENCH_FLAGS='--profiles oltp --repeat 5'`.
BENCH_FLAGS ?= --profiles all --workers 0,1,4,8,16 --native --repeat 3
bench: build
	bash scripts/install-mariadb.sh
	./bin/binlog-replay bench $(BENCH_FLAGS) --plot bin/bench.png

# soak: the randomized differential soak (internal/soak): each seed a random
# workload on a MariaDB source, replayed by binlog-replay with random workers,
# stop points, kills and target restarts, and checked against mariadb-binlog |
# mariadb over the same range. SEEDS=N seeds from FIRST (default 1), or
# SEED=S alone; FEATURES (default all; see internal/soak/seedgen/features.go),
# FORMAT=ROW|MIXED|STATEMENT, DURATION=2h, KEEP=DIR (failing and inconclusive seeds' base and binlogs, default
# bin/soak), FROM=DIR (rerun a kept seed's replay on its input), REPEAT=N
# (each seed N times: kills land at random moments), RACE=1, APPLY=sql|binlog
# (force the replay's --apply; by default a third of the seeds use sql).
# Each failing seed is printed with the command that reproduces it.
SEEDS ?= 20
FIRST ?= 1
KEEP ?= $(CURDIR)/bin/soak
soak:
	SOAK_SEEDS=$(if $(SEED),,$(SEEDS)) SOAK_SEED=$(SEED) SOAK_FIRST=$(FIRST) SOAK_FEATURES=$(FEATURES) \
		SOAK_FORMAT=$(FORMAT) SOAK_DURATION=$(DURATION) SOAK_KEEP=$(KEEP) SOAK_FROM=$(FROM) SOAK_REPEAT=$(REPEAT) SOAK_RACE=$(RACE) SOAK_APPLY=$(APPLY) \
		$(GO) test -run '^TestSoak$$' -count=1 -timeout 0 -v ./internal/soak
