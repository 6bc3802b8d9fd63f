# binlog-replay build and test entry points. `make test` is what CI runs
# (.ci/run); the tests start their own MariaDB servers (package sandbox).

GO ?= go

.PHONY: test build fmt-check vet demo bench fuzz soak

test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=15s

# fuzz: mutated binlogs through the reader with row decoding (seeded with
# real fixtures); a short bounded run is part of `make test`.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime $(FUZZTIME) -timeout 5m ./binlog

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

# soak: the randomized differential soak (internal/soak): each seed a random
# workload on a MariaDB source, replayed by binlog-replay with random workers,
# stop points, kills and target restarts, and checked against mariadb-binlog |
# mariadb over the same range. SEEDS=N seeds from FIRST (default 1), or
# SEED=S alone; FEATURES (default all; see internal/soak/features.go),
# FORMAT=ROW|MIXED|STATEMENT, NEWEXITS=1 (expect exit 3 and the new
# refusals), DURATION=2h, KEEP=DIR (failing seeds' base and binlogs, default
# bin/soak), FROM=DIR (rerun a kept seed's replay on its input), REPEAT=N
# (each seed N times: kills land at random moments), RACE=1.
# Each failing seed is printed with the command that reproduces it.
SEEDS ?= 20
FIRST ?= 1
KEEP ?= $(CURDIR)/bin/soak
soak:
	SOAK_SEEDS=$(if $(SEED),,$(SEEDS)) SOAK_SEED=$(SEED) SOAK_FIRST=$(FIRST) SOAK_FEATURES=$(FEATURES) \
		SOAK_FORMAT=$(FORMAT) SOAK_NEW_EXITS=$(NEWEXITS) SOAK_DURATION=$(DURATION) SOAK_KEEP=$(KEEP) SOAK_FROM=$(FROM) SOAK_REPEAT=$(REPEAT) SOAK_RACE=$(RACE) \
		$(GO) test -run '^TestSoak$$' -count=1 -timeout 0 -v ./internal/soak
