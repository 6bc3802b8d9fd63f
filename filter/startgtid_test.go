package filter

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestStartGTIDsMySQLFixture checks --start-gtid sets against the GTID
// history of a real MySQL binlog (PREVIOUS_GTIDS): the last file of a
// sequence, written after GTIDs 1-2 and holding GTID 3.
func TestStartGTIDsMySQLFixture(t *testing.T) {
	dir := filepath.Join(fixtures.Dir(t), "percona-server-mysql-operator/pkg/binlogsource/testdata")
	files := []string{filepath.Join(dir, "binlog.000003")}
	r, err := binlog.NewReader(files, binlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err := r.Next(context.Background()); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	before, end, known := r.GTIDHistory()
	const uuid = "ca3ce93b-9bea-11f1-b808-e608fdb6e3c5"
	if !known || before.String() != uuid+":1-2" || end.String() != uuid+":1-3" {
		t.Fatalf("history %q to %q (known %v), want %s:1-2 to %s:1-3", before, end, known, uuid, uuid)
	}
	set := func(s string) txn.GTIDSet {
		g, err := txn.ParseGTIDSet(s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	other := "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"
	for _, c := range []struct {
		start, gap, beyond, unknown string
	}{
		{start: uuid + ":1-2"},
		{start: uuid + ":1", gap: "the transactions " + uuid + ":2 are neither"},
		{start: uuid + ":1-3," + other, unknown: "3e11fa47-71ca-11e1-9e33-c80aa9429562"},
		{start: other, gap: "the transactions " + uuid + ":1-2 are neither", unknown: "3e11fa47-71ca-11e1-9e33-c80aa9429562"},
		{start: uuid + ":1-5", beyond: uuid + ":4-5 are not in the binlogs"},
	} {
		s := set(c.start)
		for _, check := range []struct {
			what, want string
			err        error
		}{
			{"gap", c.gap, StartGap(s, before, "binlog.000003")},
			{"beyond", c.beyond, StartBeyond(s, end)},
		} {
			if check.want == "" && check.err != nil || check.want != "" && (check.err == nil || !strings.Contains(check.err.Error(), check.want)) {
				t.Errorf("--start-gtid %s, %s: %v; want %q", c.start, check.what, check.err, check.want)
			}
		}
		if got := strings.Join(StartUnknown(s, end), ","); got != c.unknown {
			t.Errorf("--start-gtid %s: unknown %q, want %q", c.start, got, c.unknown)
		}
	}
}

// TestCheckStartOrder runs sequences of MariaDB GTIDs, in binlog order,
// past the position 0-1-10 (and 1-1-5): those the position skips must all
// come before those it does not, in each of its domains.
func TestCheckStartOrder(t *testing.T) {
	start, err := txn.ParseGTIDSet("0-1-10,1-1-5")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gtids string
		bad   string // the GTID refused, "" for none
	}{
		{"0-1-9,0-1-10,0-1-11,0-1-12", ""},
		{"0-1-11,1-1-4,1-1-6,0-1-12,2-1-5,2-1-1", ""},   // a skipped one of another domain; a domain the set lacks
		{"0-1-11,0-1-12,0-77-3", "0-77-3"},              // a lower sequence number from another server id
		{"0-2-1000,0-1-10,0-1-11", "0-1-10"},            // the position itself after a higher one
		{"1-1-6,0-1-9,0-1-11,1-1-5", "1-1-5"},           // in the second domain
		{"0-1-8,0-1-7,0-1-10,0-1-11,0-1-13,0-1-12", ""}, // out of order on either side only
		{"0-1-11,0-1-10", "0-1-10"},
		{"0-1-9,0-1-10,0-77-3", "0-77-3"}, // after the position's own, before any past it
		{"0-1-9,0-77-3,0-1-10", ""},       // before the position's own: in the base
	} {
		f := New(Options{StartGTIDs: start})
		bad := ""
		for i, g := range strings.Split(c.gtids, ",") {
			gtid, err := txn.ParseGTID(g)
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckStartOrder(&txn.Txn{GTID: gtid, Start: txn.Position{File: "b.000001", Offset: uint64(100 * (i + 1))}})
			var oe *StartOrderError
			if errors.As(err, &oe) {
				bad = oe.Skipped.GTID
				break
			}
		}
		if bad != c.bad {
			t.Errorf("%s: refused %q, want %q", c.gtids, bad, c.bad)
		}
	}
}
