package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
)

// The plan check: before the replay, binlog-replay plan reads the same
// files with the same start, stop and --exclude-gtids flags, and its
// prediction (what a replay would apply, where it stops, whether the stop
// point is reached) must be the expectation's, which comes from
// mariadb-binlog's text: an operator chooses the stop point from it.

// planPrediction is the part of plan's --json report the check reads.
type planPrediction struct {
	Replay struct {
		Applied        int      `json:"applied"`
		Last           *planRef `json:"last"`
		StoppedBefore  *planRef `json:"stopped_before"`
		StopNotReached string   `json:"stop_not_reached"`
		Fails          bool     `json:"fails"`
	} `json:"replay"`
	Problems struct {
		Refusal string `json:"refusal"`
	} `json:"problems"`
}

// planRef is a transaction of plan's report.
type planRef struct {
	Start struct {
		File   string `json:"file"`
		Offset uint64 `json:"offset"`
	} `json:"start"`
	GTID string `json:"gtid"`
}

// String names the transaction for reports.
func (p *planRef) String() string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%s:%d (%s)", p.Start.File, p.Start.Offset, p.GTID)
}

// is reports whether p is t (nil is no transaction).
func (p *planRef) is(t *binlogtext.BinTxn) bool {
	if p == nil || t == nil {
		return p == nil && t == nil
	}
	return p.Start.File == t.File && p.Start.Offset == t.Start
}

// checkPlan runs plan for the seed's replay (reading src's files) and
// compares its prediction with r.Expect. Stop points in a domain the
// binlogs never mention and transactions refused on purpose are left to
// the replay's checks.
func (r *Result) checkPlan(ctx context.Context, bin string, src *Source, txns []binlogtext.BinTxn) error {
	c, e := r.Replay, r.Expect
	if c.Stop.UnknownDomain || e.Refusal != "" && e.Refusal != r.planRefusal {
		return nil
	}
	args := []string{"plan", "--json"}
	switch {
	case c.StartGTID && src.StartGTID != "":
		args = append(args, "--start-gtid", src.StartGTID)
	case c.FromBackup:
		args = append(args, "--from-backup", src.Base)
	default:
		args = append(args, "--start-position", fmt.Sprintf("%s:%d", src.StartFile, src.StartPos))
	}
	args = append(args, c.stopArgs()...)
	if c.Exclude != "" {
		args = append(args, "--exclude-gtids", c.Exclude)
	}
	runCtx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, append(args, src.Files...)...)
	cmd.Env = c.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if runCtx.Err() != nil {
		return fmt.Errorf("plan: no end within %s", runTimeout)
	}
	var p planPrediction
	if jerr := json.Unmarshal(stdout.Bytes(), &p); jerr != nil {
		r.Failures = append(r.Failures, Failure{Class: "plan: no report",
			Detail: fmt.Sprintf("binlog-replay %s: %v (%v): %s", strings.Join(args, " "), err, jerr, tailLines(stderr.String(), 5))})
		return nil
	}
	if held := r.planRefusal != "" && strings.Contains(p.Problems.Refusal, r.planRefusal); held != (r.planRefusal != "") || p.Problems.Refusal != "" && !held {
		r.Failures = append(r.Failures, Failure{Class: "plan: another prediction than the expectation",
			Detail: fmt.Sprintf("binlog-replay %s (%s): it predicts the refusal %q, want %q", strings.Join(args, " "), e.Why, p.Problems.Refusal, r.planRefusal)})
		return nil
	} else if held {
		return nil // a refusal: the prediction of what it applies does not matter
	}
	// What the expectation says a replay applies, skips and stops before.
	want, skipped := e.Applied, c.Accident >= 0 && c.Accident < e.Applied
	if skipped {
		want--
	}
	var last, before *binlogtext.BinTxn
	for i := e.Applied - 1; i >= 0; i-- {
		if i != c.Accident {
			last = &txns[i]
			break
		}
	}
	reached := !c.Stop.NeverMet && len(c.Stop.Args) > 0
	if reached && e.Applied < len(txns) {
		before = &txns[e.Applied]
	}
	var wrong []string
	if p.Replay.Fails {
		wrong = append(wrong, "it predicts a read error")
	}
	if p.Replay.Applied != want {
		wrong = append(wrong, fmt.Sprintf("it predicts %d transactions applied, want %d", p.Replay.Applied, want))
	}
	if !p.Replay.Last.is(last) {
		wrong = append(wrong, fmt.Sprintf("last transaction applied %s, want %s", p.Replay.Last, refOf(last)))
	}
	if !p.Replay.StoppedBefore.is(before) {
		wrong = append(wrong, fmt.Sprintf("stopped before %s, want %s", p.Replay.StoppedBefore, refOf(before)))
	}
	if notReached := p.Replay.StopNotReached != ""; notReached != c.Stop.NeverMet {
		wrong = append(wrong, fmt.Sprintf("stop point reached: %v, want %v", !notReached, !c.Stop.NeverMet))
	}
	if len(wrong) > 0 {
		r.Failures = append(r.Failures, Failure{Class: "plan: another prediction than the expectation",
			Detail: fmt.Sprintf("binlog-replay %s (%s): %s", strings.Join(args, " "), e.Why, strings.Join(wrong, "; "))})
	}
	return nil
}

// refOf names t as planRef.String does.
func refOf(t *binlogtext.BinTxn) string {
	if t == nil {
		return "none"
	}
	return fmt.Sprintf("%s:%d (%s)", t.File, t.Start, t.GTID)
}
