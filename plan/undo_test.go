package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// TestUndoCommand checks the undo command plan prints: the binlogs'
// directory when they share one, else the files, else a placeholder.
func TestUndoCommand(t *testing.T) {
	flags := []string{"--start-position b.000002:4", "--stop-position b.000002:90"}
	for _, tc := range []struct {
		files []FileInfo
		want  string
	}{
		{[]FileInfo{{Path: "/logs/b.000001"}, {Path: "/logs/b.000002"}}, "/logs/"},
		{[]FileInfo{{Path: "/a/b.000001"}, {Path: "/b/b.000002"}}, "/a/b.000001 /b/b.000002"},
		{nil, "BINLOGS..."},
	} {
		want := "binlog-replay undo --target DSN --start-position b.000002:4 --stop-position b.000002:90 " + tc.want
		if got := undoCommand(flags, tc.files); got != want {
			t.Errorf("files %v: got %q, want %q", tc.files, got, want)
		}
	}
}

// TestUndoByGTID checks the range flags of an undoable transaction: its
// positions always, and --gtids naming it alone where it has a MariaDB
// GTID (none for a MySQL GTID, which --gtids does not take, nor without
// a GTID); both commands are printed.
func TestUndoByGTID(t *testing.T) {
	pos := func(off uint64) txn.Position { return txn.Position{File: "mysql-bin.000001", Offset: off} }
	for _, tc := range []struct {
		name string
		gtid string
		want []string
	}{
		{"MariaDB", "0-1-6", []string{"--gtids 0-1-6..6"}},
		{"MariaDB, another domain and server", "3-17-42", []string{"--gtids 3-17-42..42"}},
		{"MySQL", "3e11fa47-71ca-11e1-9e33-c80aa9429562:6", nil},
		{"no GTID", "", nil},
	} {
		tx := &txn.Txn{Seq: 6, Kind: txn.KindRows, Start: pos(108564), End: pos(214202), Time: time.Unix(1796420514, 0)}
		if tc.gtid != "" {
			g, err := txn.ParseGTID(tc.gtid)
			if err != nil {
				t.Fatal(err)
			}
			tx.GTID = g
		}
		c := &Candidate{Ref: *tx.Ref(), Destructive: true, Kind: "big-delete"}
		(&stopFinder{}).undoOf(tx, c)
		if want := []string{"--start-position mysql-bin.000001:108564", "--stop-position mysql-bin.000001:214202"}; !slices.Equal(c.Undo, want) {
			t.Errorf("%s: undo flags %q, want %q", tc.name, c.Undo, want)
		}
		if !slices.Equal(c.UndoGTIDs, tc.want) {
			t.Errorf("%s: GTID flags %q, want %q", tc.name, c.UndoGTIDs, tc.want)
		}
		var b strings.Builder
		p := &printer{w: &b, loc: time.UTC}
		p.candidates(&Report{Candidates: []Candidate{*c}, Files: []FileInfo{{Path: "/var/lib/mysql/mysql-bin.000001"}}})
		byPos := "undo it (on the server it happened on; --dry-run first): binlog-replay undo --target DSN " +
			"--start-position mysql-bin.000001:108564 --stop-position mysql-bin.000001:214202 /var/lib/mysql/\n"
		byGTID := ""
		if tc.want != nil {
			byGTID = "    or by its GTID: binlog-replay undo --target DSN " + tc.want[0] + " /var/lib/mysql/\n"
		}
		if !strings.Contains(b.String(), byPos+byGTID) || tc.want == nil && strings.Contains(b.String(), "--gtids") {
			t.Errorf("%s: the report says\n%s\nwant the lines\n%s%s", tc.name, b.String(), byPos, byGTID)
		}
	}
}
