package soak

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// testSeeds are the seeds `make test` runs: a few, so that the package
// stays well under two minutes with -race. One per binlog format with the
// stable features (seed 2 then replays some tables into a side database,
// FeatRewriteDB, refused up front for RENAME TABLE swaps and run again
// with the tables named), seed 6 in ROW format with FeatUndo (it undoes a
// transaction on the live source, exit 0, compared), one with kills and
// target restarts
// (StableChaosFeatures), seed 22, whose stable draw holds the statement
// context (FeatContext), in STATEMENT format, and seed 109, whose draw with
// FeatFilter replays some tables with --tables (refused up front once,
// then run again with the table the refusal names), in STATEMENT format.
var testSeeds = []seedRun{
	{1, "ROW", "stable"},
	{2, "MIXED", "stable,rewritedb"},
	{3, "STATEMENT", "stable"},
	{4, "", "stable-chaos"},
	{6, "ROW", "stable,undo"},
	{22, "STATEMENT", "stable"},
	{109, "STATEMENT", "stable,filter"},
}

// TestSoak runs the soak. Without settings it runs testSeeds with
// StableFeatures. The environment selects a longer run (`make soak`):
//
//	SOAK_SEEDS=N      run N seeds, from SOAK_FIRST (default 1)
//	SOAK_SEED=S       run seed S only
//	SOAK_DURATION=D   stop starting seeds after D (e.g. 2h)
//	SOAK_FEATURES=L   the feature mask (default "all" with SOAK_SEEDS or
//	                  SOAK_SEED, else each test seed's); see ParseFeatures
//	SOAK_FORMAT=F     force the binlog format (ROW, MIXED, STATEMENT)
//	SOAK_APPLY=A      force the replay's --apply (sql: every seed without
//	                  triggers; binlog: every seed)
//	SOAK_KEEP=DIR     keep failing and inconclusive seeds' base, binlogs and report there
//	SOAK_FROM=DIR     rerun a kept seed's replay and check on its input
//	SOAK_REPEAT=N     run each seed N times (kills and restarts land at
//	                  random moments: a failure may need a few tries)
//	SOAK_RACE=1       build binlog-replay with the race detector
func TestSoak(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB is required when CI=true: %v", err)
		}
		t.Skipf("MariaDB not installed: %v", err)
	}
	cfg, seeds, deadline := soakSettings(t)
	cfg.Bin = buildBinary(t, os.Getenv("SOAK_RACE") == "1")
	cfg.WorkDir = t.TempDir()
	var tally Tally
	for i, s := range seeds {
		if !deadline.IsZero() && time.Now().After(deadline) {
			t.Logf("soak: SOAK_DURATION reached after %d seeds", i)
			break
		}
		seedCfg := cfg
		if s.format != "" {
			seedCfg.Format = s.format
		}
		if s.mask != "" && os.Getenv("SOAK_FEATURES") == "" {
			mask, err := seedgen.ParseFeatures(s.mask)
			if err != nil {
				t.Fatal(err)
			}
			seedCfg.Mask = mask
		}
		r := RunSeed(context.Background(), seedCfg, s.seed)
		tally.Add(r)
		t.Log(r.Line())
		switch r.Status {
		case Fail, Harness:
			t.Errorf("%s", r.Report())
		case Inconclusive:
			t.Logf("%s", r.Report())
		}
	}
	t.Log("\n" + tally.String())
}

// seedRun is a seed to run, with the binlog format and feature mask it
// forces ("": the configuration's).
type seedRun struct {
	seed   uint64
	format string
	mask   string
}

// soakSettings reads the environment (see TestSoak).
func soakSettings(t *testing.T) (Config, []seedRun, time.Time) {
	t.Helper()
	soakMode := os.Getenv("SOAK_SEEDS") != "" || os.Getenv("SOAK_SEED") != ""
	maskText := os.Getenv("SOAK_FEATURES")
	if maskText == "" && !soakMode {
		maskText = "stable"
	}
	mask, err := seedgen.ParseFeatures(maskText)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Mask: mask, Format: os.Getenv("SOAK_FORMAT"), Keep: os.Getenv("SOAK_KEEP"), From: os.Getenv("SOAK_FROM"),
		Apply: os.Getenv("SOAK_APPLY")}
	if a := cfg.Apply; a != "" && a != "sql" && a != "binlog" {
		t.Fatalf("SOAK_APPLY=%s: want sql or binlog", a)
	}
	var seeds []seedRun
	switch {
	case os.Getenv("SOAK_SEED") != "":
		seeds = []seedRun{{seed: envUint(t, "SOAK_SEED", 0)}}
	case os.Getenv("SOAK_SEEDS") != "":
		first, n := envUint(t, "SOAK_FIRST", 1), envUint(t, "SOAK_SEEDS", 0)
		for i := uint64(0); i < n; i++ {
			seeds = append(seeds, seedRun{seed: first + i})
		}
	default:
		seeds = testSeeds
	}
	if n := envUint(t, "SOAK_REPEAT", 1); n > 1 {
		var repeated []seedRun
		for _, s := range seeds {
			for i := uint64(0); i < n; i++ {
				repeated = append(repeated, s)
			}
		}
		seeds = repeated
	}
	var deadline time.Time
	if d := os.Getenv("SOAK_DURATION"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		deadline = time.Now().Add(dur)
	}
	return cfg, seeds, deadline
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// buildBinary builds binlog-replay into a temp dir.
func buildBinary(t *testing.T, race bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "binlog-replay")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/binlog-replay/binlog-replay/cmd/binlog-replay")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
