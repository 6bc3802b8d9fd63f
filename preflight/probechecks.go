package preflight

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
)

// Commit latencies (the median of a small durable commit, as a client
// sees it) by kind of storage, the usual figures: a healthy local SSD or
// NVMe syncs in well under a millisecond, a network block device (cloud
// volumes, SAN) in one to a few; above slowMs the disk is abnormally
// slow for a recovery. A p99 more than erraticRatio times the median
// (and above erraticMinMs) is an erratic disk.
const (
	localSSDMs   = 1.0
	networkMs    = 5.0
	slowMs       = 10.0
	erraticRatio = 10.0
	erraticMinMs = 10.0
)

// probeChecks returns the checks of what the probe measured.
func probeChecks(rep *Report) []Check {
	p := rep.Probe
	flush, _ := rep.Target.intVar("innodb_flush_log_at_trx_commit")
	c := Check{Name: "commit latency",
		What: "the time a small commit takes, as the replay sees it: the round trip, and the redo log sync (innodb_flush_log_at_trx_commit=1). " +
			"The replay commits once per group of transactions, so it pays this once per group, plus a few round trips per group.",
		During: "a target on a healthy local SSD or NVMe disk, near the replay (the same host or network)",
	}
	if p.Skipped != "" {
		c.Status, c.Value, c.Finding = Unknown, "not measured", "the probe did not write: "+p.Skipped
		return []Check{c}
	}
	l, rtt := p.Commit, p.RoundTrip
	c.Value = fmt.Sprintf("median %.2f ms, p99 %.2f ms over %d commits (round trip: median %.2f ms, p99 %.2f ms)",
		l.MedianMs, l.P99Ms, l.Samples, rtt.MedianMs, rtt.P99Ms)
	var notes []string
	if rtt.MedianMs > 1 {
		notes = append(notes, fmt.Sprintf("%.2f ms of it is the round trip, which is slow: a network (or a proxy) between the replay and the target "+
			"costs that a few times per group", rtt.MedianMs))
	}
	if flush != 1 {
		notes = append(notes, "commits are not synced at commit (innodb_flush_log_at_trx_commit is not 1): the disk's sync time is not in these figures")
	}
	var kind string
	switch {
	case l.MedianMs <= localSSDMs:
		kind = fmt.Sprintf("like a healthy local SSD (typically up to %.0f ms)", localSSDMs)
	case l.MedianMs <= networkMs:
		kind = fmt.Sprintf("like a network disk (typically %.0f to %.0f ms); a local SSD commits in under %.0f ms", localSSDMs, networkMs, localSSDMs)
	case l.MedianMs <= slowMs:
		kind = fmt.Sprintf("slow: more than a network disk's typical %.0f ms", networkMs)
	default:
		kind = fmt.Sprintf("ABNORMALLY SLOW: a healthy local SSD commits in under %.0f ms, a network disk in %.0f to %.0f ms", localSSDMs, localSSDMs, networkMs)
	}
	c.Status, c.Finding = OK, kind
	if l.MedianMs > slowMs {
		c.Status = Warn
	}
	if l.Ratio() > erraticRatio && l.P99Ms > erraticMinMs {
		c.Status = Warn
		notes = append(notes, fmt.Sprintf("ERRATIC: the p99 is %.0f times the median (a healthy disk stays within a few times): a disk shared with other load, "+
			"throttled, or failing", l.Ratio()))
	}
	if len(notes) > 0 {
		c.Finding += "; " + strings.Join(notes, "; ")
	}
	out := []Check{c}

	a := p.Apply
	if a == nil {
		if p.ApplySkipped != "" {
			out = append(out, Check{Name: "apply rate", Status: Unknown, Value: "not measured", Finding: p.ApplySkipped,
				What: "how fast the target applies transactions like the binlogs' (the estimate's main input)."})
		}
		return out
	}
	c = Check{Name: "apply rate",
		What: "how fast one session of the target applies transactions like the binlogs' (BINLOG statements into scratch copies of their tables, " +
			"committed in groups as a replay worker does), and how that scales with several sessions at once."}
	if a.Method == "passthrough" {
		c.Value = fmt.Sprintf("%.0f transactions/s, %.0f rows/s, %s/s (%d transactions in %.2f s)",
			a.TxnsPerSec(), a.RowsPerSec(), bytesize.Human(int64(a.BytesPerSec())), a.Txns, a.Seconds)
	} else {
		c.Value = fmt.Sprintf("%.0f rows/s in multi-row inserts (%d rows in %.2f s)", a.RowsPerSec(), a.Rows, a.Seconds)
	}
	if a.Sessions > 1 {
		c.Value += fmt.Sprintf("; %d sessions at once: %.1fx one session's rate", a.Sessions, a.Scaling)
	}
	c.Status, c.Finding = OK, "measured"
	if a.Method != "passthrough" {
		c.Status, c.Finding = Warn, "the binlogs' own transactions could not be sampled ("+a.Why+"): measured with multi-row inserts, the estimate is rougher"
	}
	if a.Refused > 0 {
		c.Status = Warn
		c.Finding += fmt.Sprintf("; the target refused %d of the binlogs' first transactions on copies of its own rows: "+
			"is the start position the one the target's base backup was taken at?", a.Refused)
	}
	if len(a.LeftOut) > 0 {
		c.Finding += "; left out of the sample: " + strings.Join(a.LeftOut, ", ")
	}
	return append(out, c)
}
