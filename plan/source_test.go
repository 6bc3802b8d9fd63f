package plan_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/remote"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestPlanFromSource plans the same binlogs read from the files and read
// from the live source server with the replication protocol: the reports
// must be the same but for where they were read from. A GTID start on the
// source must plan only what follows it.
func TestPlanFromSource(t *testing.T) {
	ctx := context.Background()
	var dropGTID string
	sc := replaytest.New(t, "ROW", setupTables, func(ctx context.Context, db *sql.DB) error {
		var err error
		dropGTID, err = workload(ctx, db, nil)
		return err
	})
	fromFiles, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil {
		t.Fatal(err)
	}
	src := remote.Source{Network: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", sc.Source.Port), User: "root", ServerID: 4000101}
	fromSource, err := plan.Run(ctx, plan.Options{Source: &src, StartPosition: sc.Start})
	if err != nil {
		t.Fatal(err)
	}
	if fromSource.Source != src.Address || fromFiles.Source != "" {
		t.Errorf("source named %q (files: %q)", fromSource.Source, fromFiles.Source)
	}
	var names []string
	var bytes int64
	for _, f := range fromSource.Files {
		names = append(names, f.Name)
		bytes += f.Bytes
	}
	var fileNames []string
	for _, f := range fromFiles.Files {
		fileNames = append(fileNames, f.Name)
	}
	// The files read from the source are those holding transactions after
	// the start, among the files given.
	if len(names) == 0 || !strings.Contains(","+strings.Join(fileNames, ",")+",", ","+strings.Join(names, ",")+",") ||
		bytes != fromSource.Contents.Bytes {
		t.Errorf("source files %v (%d bytes, transactions %d bytes); the files given %v",
			names, bytes, fromSource.Contents.Bytes, fileNames)
	}
	if a, b := comparable(t, fromFiles), comparable(t, fromSource); a != b {
		t.Errorf("reports differ:\nfiles:  %s\nsource: %s", a, b)
	}
	if fromSource.Contents.Transactions != nInserts+mDeletes+3 {
		t.Errorf("%d transactions from the source", fromSource.Contents.Transactions)
	}

	// From after the GTID before the DROP: the DROP alone.
	g, err := txn.ParseGTID(dropGTID)
	if err != nil {
		t.Fatal(err)
	}
	g.Seq--
	src.StartGTID = g.String()
	set, err := txn.ParseGTIDSet(g.String())
	if err != nil {
		t.Fatal(err)
	}
	last, err := plan.Run(ctx, plan.Options{Source: &src, StartGTIDs: set})
	if err != nil {
		t.Fatal(err)
	}
	if last.Replay.Applied != 1 || len(last.Candidates) != 1 || last.Candidates[0].Kind != "drop-table" {
		t.Errorf("from after %s: %d applied, candidates %+v", g, last.Replay.Applied, last.Candidates)
	}

	for _, bad := range []plan.Options{
		{Source: &remote.Source{Address: src.Address}},           // no start
		{Source: &src, Files: sc.Files, StartPosition: sc.Start}, // both
	} {
		if _, err := plan.Run(ctx, bad); err == nil {
			t.Errorf("plan.Run(%+v): no error", bad)
		}
	}
}

// comparable returns r as JSON without what depends on where the binlogs
// were read from: the file list, the source and the reader's byte and
// event counts (a dump sends events that are not in the files).
func comparable(t *testing.T, r *plan.Report) string {
	t.Helper()
	c := *r
	c.Files, c.Source = nil, ""
	c.Contents.BytesRead, c.Contents.EventsRead = 0, 0
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
