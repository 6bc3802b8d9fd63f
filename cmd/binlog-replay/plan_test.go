package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/plan"
)

func planFixture(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(fixtures.Dir(t), rel)
}

func TestRunPlan(t *testing.T) {
	gtids := planFixture(t, "binlog-parser/data/gtid-fixtures/mysql-bin.01")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := runPlan(t.Context(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := run(gtids)
	if code != 0 || !strings.Contains(out, "DESTRUCTIVE drop-table: #2 at mysql-bin.01:428") ||
		!strings.Contains(out, "--stop-position mysql-bin.01:428") || errOut != "" {
		t.Errorf("text: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}

	// The replay flags change the prediction; --json prints it all.
	code, out, _ = run("--json", "--stop-before-gtid", "10440e47-3885-11eb-ac5b-0242ac110002:7", gtids)
	var rep plan.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != 0 || rep.Replay.Applied != 1 || rep.Replay.StoppedBefore == nil || rep.Replay.StoppedBefore.Seq != 2 ||
		len(rep.Candidates) != 13 || rep.Candidates[1].Applied {
		t.Errorf("json: exit %d, replay %+v, %d candidates", code, rep.Replay, len(rep.Candidates))
	}

	// A binlog the replay cannot read: the report, and exit status 1.
	bad := planFixture(t, "MyFlash/binlog_output_base.flashback")
	code, out, errOut = run(bad)
	if code != 1 || !strings.Contains(out, "read error: binlog binlog_output_base.flashback at offset 120") || !strings.Contains(errOut, "would fail") {
		t.Errorf("bad binlog: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}

	// Bad flags.
	for _, args := range [][]string{
		{"--stop-position", "nocolon", gtids},
		{"--tables", "notqualified", gtids},
		{"--workers", "0", gtids},
		{"--big-rows", "0", gtids},
		{"/nonexistent/binlog.000001"},
	} {
		if code, _, errOut := run(args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}
