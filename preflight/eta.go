package preflight

import (
	"fmt"
	"math"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/preflight/probe"
)

// ETA is the estimated duration of the replay, with a range.
type ETA struct {
	Seconds     float64 `json:"seconds"`
	LowSeconds  float64 `json:"low_seconds"`
	HighSeconds float64 `json:"high_seconds"`
	// Workers is the worker count estimated for, SpeedUp the speed-up
	// over one worker the estimate assumes, and Basis the estimate's
	// terms in words.
	Workers int      `json:"workers"`
	SpeedUp float64  `json:"speed_up"`
	Basis   []string `json:"basis"`
	// Excluded says what the estimate leaves out (DDL run times).
	Excluded string `json:"excluded,omitempty"`
}

// Calibration of the model on a 2-core machine against real replays
// (docs/preflight.md, "How the estimate was calibrated"): the target
// applies the binlogs' transactions to its real tables about serverFactor
// times slower than to the probe's small scratch copies (their B-trees are
// deeper, their pages colder); startUpSeconds is the replay's fixed cost
// (connecting, checks, reading the schema). rangeLow and rangeHigh bound
// the estimate.
//
// Below chainedBound, plan's speed-up bound counts for nothing: measured
// on 2026-12-05 (docs/preflight.md, 2 cores), both 8 x 100k OLTP
// workloads had a bound of 1.3x with 4 workers, and their replays ran no
// faster than one session's rate: on sysbench's distribution the adaptive
// grouping merged the chains into groups that each waited for the one
// before ("the binlog allows 1.0 at once"); on the uniform one the groups
// ran side by side but gained nothing. Assuming the bound made the
// estimate 1.2 to 1.45 times short.
const (
	chainedBound   = 2.0
	serverFactor   = 1.1
	startUpSeconds = 0.3
	rangeLow       = 0.75
	rangeHigh      = 1.35
)

// etaInput is what the estimate is made from.
type etaInput struct {
	b        *Binlogs
	apply    *probe.ApplyProbe
	rttMs    float64
	commitMs float64
	// bound is plan's speed-up bound for the worker count (by rows), 0
	// when unknown; workers the replay's worker count.
	bound   float64
	workers int
	// binlogSync adds a binlog sync per target commit (the replay writes
	// the target's binlog with sync_binlog=1): the probe's sessions keep
	// out of the binlog, so it did not measure it.
	binlogSync bool
	// overflow is set when the written tables exceed the buffer pool.
	overflow bool
	// load is this machine's load average and cores its CPUs: a load
	// above the cores raises the range's top.
	load  float64
	cores int
	// readSeconds is how long reading, decoding and keying the binlogs
	// took this machine (the replay's own work).
	readSeconds float64
}

// estimate returns the replay's estimated duration.
func estimate(in etaInput) ETA {
	e := ETA{Workers: in.workers}
	b, a := in.b, in.apply
	if a == nil || a.Seconds <= 0 || a.Txns == 0 {
		e.Basis = append(e.Basis, "no apply rate was measured: no estimate")
		return e
	}
	rowTxns := float64(b.RowTxns)
	perTxn := a.Seconds / float64(a.Txns)
	byTxns := rowTxns * perTxn
	serial := byTxns
	low, high := serial, serial
	if a.Method == "passthrough" && a.Bytes > 0 {
		byBytes := float64(b.RowTxnBytes) * a.Seconds / float64(a.Bytes)
		serial = (byTxns + byBytes) / 2
		low, high = math.Min(byTxns, byBytes), math.Max(byTxns, byBytes)
		e.Basis = append(e.Basis, fmt.Sprintf("one session applied %d of the binlogs' own transactions (%s) to scratch copies in %.2f s: "+
			"%.0f transactions/s, %s/s", a.Txns, bytesize.Human(a.Bytes), a.Seconds, a.TxnsPerSec(), bytesize.Human(int64(a.BytesPerSec()))))
		if a.Compacted {
			e.Basis = append(e.Basis, fmt.Sprintf("its groups compacted as the replay's will be (--compact): %d of the sample's %d row changes written",
				a.RowsApplied, a.Rows))
		}
		e.Basis = append(e.Basis, fmt.Sprintf("%d row transactions (%s) at that rate: %.1f s by transactions, %.1f s by bytes",
			b.RowTxns, bytesize.Human(b.RowTxnBytes), byTxns, byBytes))
	} else {
		e.Basis = append(e.Basis, fmt.Sprintf("one session inserted %d rows in %d transactions in %.2f s (%s): %d row transactions at that rate: %.1f s",
			a.Rows, a.Txns, a.Seconds, a.Why, b.RowTxns, byTxns))
		low, high = serial*0.5, serial*2
	}
	speed := 1.0
	if in.workers > 1 {
		speed = float64(in.workers)
		why := fmt.Sprintf("%d workers", in.workers)
		switch {
		case in.bound > 0 && in.bound < chainedBound:
			speed, why = 1, fmt.Sprintf("the binlogs' dependencies allow only %.1fx with %d workers (plan's critical path): "+
				"counted as none (replays of such binlogs measured no faster than one session)", in.bound, in.workers)
		case in.bound > 0 && in.bound < speed:
			speed, why = in.bound, fmt.Sprintf("the binlogs' dependencies allow %.1fx with %d workers (plan's critical path)", in.bound, in.workers)
		}
		if a.Scaling > 0 && a.Scaling < speed {
			speed, why = math.Max(a.Scaling, 1), fmt.Sprintf("the target applied %.1fx as fast with %d sessions as with one", a.Scaling, a.Sessions)
		}
		e.Basis = append(e.Basis, fmt.Sprintf("speed-up %.1fx: %s", speed, why))
	}
	e.SpeedUp = speed
	fixed := startUpSeconds
	other := float64(b.StmtTxns+b.DDLTxns) * (in.commitMs + 2*in.rttMs) / 1000
	if other > 0 {
		e.Basis = append(e.Basis, fmt.Sprintf("%d statement and DDL transactions, one at a time: %.1f s for their round trips and commits",
			b.StmtTxns+b.DDLTxns, other))
		e.Excluded = "the time the DDL statements themselves take (an ALTER TABLE of a large table can take minutes)"
	}
	var sync float64
	if in.binlogSync && a.Groups > 0 {
		groups := rowTxns / (float64(a.Txns) / float64(a.Groups))
		sync = groups * in.commitMs / 1000
		e.Basis = append(e.Basis, fmt.Sprintf("the target's binlog synced at each of about %.0f commits: %.1f s (not in the probe, which kept out of the binlog)", groups, sync))
	}
	if in.readSeconds > 0 {
		e.Basis = append(e.Basis, fmt.Sprintf("the replay's own work (reading, decoding, write sets): %.1f s here", in.readSeconds))
	}
	total := func(s float64) float64 { return (s*serverFactor+in.readSeconds)/speed + other + sync + fixed }
	e.Seconds, e.LowSeconds, e.HighSeconds = total(serial), total(low)*rangeLow, total(high)*rangeHigh
	if in.cores > 0 && in.load > float64(in.cores) {
		f := math.Min(in.load/float64(in.cores), 3)
		e.HighSeconds *= f
		e.Basis = append(e.Basis, fmt.Sprintf("this machine is busy (load %.1f on %d cores): the range's top raised %.1f times", in.load, in.cores, f))
	}
	if in.overflow {
		e.HighSeconds *= 2
		e.Basis = append(e.Basis, "the written tables exceed the buffer pool: the replay will read from disk, which the probe did not (the range's top doubled)")
	}
	return e
}
