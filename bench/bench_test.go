package bench

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/sandbox"
	"github.com/binlog-replay/binlog-replay/workload"
)

func requireServer(t *testing.T) {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB is required under CI: %v", err)
		}
		t.Skip(err)
	}
}

func tiny() Options {
	o := DefaultOptions()
	o.Scale, o.Txns, o.Threads, o.Tables, o.Workers, o.Durable = 50, 120, 2, 2, []int{1, 4}, false
	return o
}

// TestBenchTiny runs every profile end to end at a tiny scale: every
// method must be measured and verified.
func TestBenchTiny(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Profiles = workload.Profiles()
	o.Txns = 40
	o.Native = true
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Profiles) != len(o.Profiles) {
		t.Fatalf("%d profiles reported, want %d", len(rep.Profiles), len(o.Profiles))
	}
	for _, p := range rep.Profiles {
		if len(p.Results) != 2+len(o.Workers) || p.Txns == 0 { // anchor, workers, native
			t.Errorf("profile %s: %d results, %d transactions", p.Profile, len(p.Results), p.Txns)
		}
		for _, r := range p.Results {
			if !r.Verified || r.Median <= 0 || r.Ratio <= 0 {
				t.Errorf("profile %s, %s: verified=%v median=%v ratio=%v %s", p.Profile, r.Method, r.Verified, r.Median, r.Ratio, r.Problem)
			}
		}
	}
	var out strings.Builder
	if err := WriteText(&out, rep); err != nil || !strings.Contains(out.String(), AnchorMethod) {
		t.Errorf("text report: %v\n%s", err, out.String())
	}
}

// TestBenchDetectsCorruption changes one row on one method's target after
// its apply: that method must be reported as not verified, the others not.
func TestBenchDetectsCorruption(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Profiles = []workload.Profile{workload.OLTP}
	victim := "binlog-replay --workers 4"
	o.Tamper = func(ctx context.Context, method string, db *sql.DB) error {
		if method != victim {
			return nil
		}
		_, err := db.ExecContext(ctx, "UPDATE wl_oltp.sbtest1 SET c = CONCAT(c, 'x') ORDER BY id LIMIT 1")
		return err
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified() {
		t.Fatal("a corrupted target was reported as verified")
	}
	for _, r := range rep.Profiles[0].Results {
		if (r.Method == victim) == r.Verified {
			t.Errorf("%s: verified=%v", r.Method, r.Verified)
		}
	}
}
