#!/usr/bin/env bash
# fuzz.sh FUZZTIME: runs every fuzzer of the module (each
# `func FuzzX(f *testing.F)` in a test file), one after the other, for
# FUZZTIME each. A failing input is written to the package's
# testdata/fuzz/FuzzX/ and stops the run with exit status 1.
#
# Go 1.26's fuzzing coordinator can end a run with "context deadline
# exceeded" and no failing input when -fuzztime runs out while a worker is
# busy (go.dev/issue/75804, fixed in Go 1.27; seen here on a loaded
# machine). Such a run found nothing: the fuzzer is run once more, and a
# second such ending fails the run like any other.
set -euo pipefail
fuzztime=${1:?usage: fuzz.sh FUZZTIME}
go=${GO:-go}

run() { # run NAME DIR LOG: one fuzzer, its output to the terminal and LOG
	set +e
	"$go" test -run '^$' -fuzz "^$1\$" -fuzztime "$fuzztime" -timeout 30m "$2" 2>&1 | tee "$3"
	local rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' . | sort |
	while IFS=: read -r file decl; do
		name=${decl#func }
		name=${name%%(*}
		dir=$(dirname "$file")
		echo "== $name ($dir, $fuzztime)"
		if run "$name" "$dir" "$log"; then
			continue
		fi
		if grep -q 'Failing input written' "$log" || ! grep -q '^    context deadline exceeded$' "$log"; then
			exit 1
		fi
		echo "== $name ended with \"context deadline exceeded\" and no failing input (go.dev/issue/75804): once more"
		run "$name" "$dir" "$log" || exit 1
	done
