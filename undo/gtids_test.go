package undo

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// gtidTxns returns one transaction per GTID ("d-s-n", or "" for none),
// one after the other in mysql-bin.000001.
func gtidTxns(t *testing.T, gtids ...string) []*txn.Txn {
	t.Helper()
	var out []*txn.Txn
	for i, s := range gtids {
		tx := &txn.Txn{Seq: uint64(i + 1), Start: txn.Position{File: "mysql-bin.000001", Offset: uint64(100 * (i + 1))},
			End: txn.Position{File: "mysql-bin.000001", Offset: uint64(100*(i+2) - 1)}}
		if s != "" {
			g, err := txn.ParseGTID(s)
			if err != nil {
				t.Fatal(err)
			}
			tx.GTID = g
		}
		out = append(out, tx)
	}
	return out
}

func mustRanges(t *testing.T, s string) []filter.GTIDRange {
	t.Helper()
	rs, err := filter.ParseGTIDRanges(s)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestGTIDSelector checks how the range --gtids names is found in the
// binlogs: the transactions before the first named one passed over, the
// named ones taken (in any order of their sequence numbers, across
// domains), the range ended by the first transaction after them that is
// not named; and refused, naming what is wrong, when the named ones are
// not consecutive, when one is found twice (in the range or after it),
// and when the binlogs do not hold them all.
func TestGTIDSelector(t *testing.T) {
	const (
		B = beforeRange
		I = inRange
		A = afterRange
	)
	for _, c := range []struct {
		name   string
		gtids  string   // --gtids
		binlog []string // the GTIDs of the binlogs' transactions
		want   []place  // the place of each, up to the refusal if any
		err    string   // the refusal, by a transaction or at the end
		atEnd  bool     // the binlogs end after them (else the last is after the range)
	}{
		{name: "one range", gtids: "0-1-5..7", binlog: []string{"0-1-3", "0-1-4", "0-1-5", "0-1-6", "0-1-7", "0-1-8"},
			want: []place{B, B, I, I, I, A}},
		{name: "one transaction", gtids: "0-1-5..5", binlog: []string{"0-1-4", "0-1-5", "0-1-6"}, want: []place{B, I, A}},
		{name: "at the end of the binlogs", gtids: "0-1-5..6", binlog: []string{"0-1-4", "0-1-5", "0-1-6"},
			want: []place{B, I, I}, atEnd: true},
		{name: "two domains interleaved", gtids: "0-1-5..6,1-1-20..20",
			binlog: []string{"0-1-4", "0-1-5", "1-1-20", "0-1-6", "1-1-21"}, want: []place{B, I, I, I, A}},
		{name: "sequence numbers out of order", gtids: "0-1-5..7", binlog: []string{"0-1-6", "0-1-5", "0-1-7", "0-1-8"},
			want: []place{I, I, I, A}},
		{name: "before, a transaction without a GTID", gtids: "0-1-5..5", binlog: []string{"", "0-1-5", ""}, want: []place{B, I, A}},
		{name: "another server id is not named", gtids: "0-1-5..5", binlog: []string{"0-2-5", "0-1-5", "0-2-6"},
			want: []place{B, I, A}},
		{name: "not consecutive: another domain between", gtids: "0-1-5..7",
			binlog: []string{"0-1-5", "0-1-6", "1-1-1", "0-1-7"}, want: []place{I, I},
			err: "not consecutive in the binlogs: the transaction at mysql-bin.000001:300 (GTID 1-1-1) comes after the named one " +
				"at mysql-bin.000001:200 (GTID 0-1-6) but is not named, and named ones are not found before it (0-1-7..7)"},
		{name: "not consecutive: a transaction without a GTID between", gtids: "0-1-5..6",
			binlog: []string{"0-1-5", "", "0-1-6"}, want: []place{I}, err: "(without a GTID) comes after the named one"},
		{name: "not consecutive: a gap in the sequence numbers named", gtids: "0-1-5..6,0-1-8..8",
			binlog: []string{"0-1-5", "0-1-6", "0-1-7", "0-1-8"}, want: []place{I, I}, err: "(GTID 0-1-7) comes after"},
		{name: "twice in the range", gtids: "0-1-5..7", binlog: []string{"0-1-5", "0-1-6", "0-1-5"}, want: []place{I, I},
			err: "GTID 0-1-5, which --gtids names, is in the binlogs twice: again in the range, at mysql-bin.000001:300"},
		{name: "missing at the end", gtids: "0-1-5..9", binlog: []string{"0-1-4", "0-1-5", "0-1-6"}, want: []place{B, I, I},
			atEnd: true, err: "--gtids names transactions the binlogs do not hold: 0-1-7..9 (the binlogs end after the last named one " +
				"found, at mysql-bin.000001:300 (GTID 0-1-6))"},
		{name: "none in the binlogs", gtids: "0-1-5..5,2-1-3..4", binlog: []string{"0-1-1", "0-1-2"}, want: []place{B, B},
			atEnd: true, err: "none of the transactions --gtids names (0-1-5..5,2-1-3..4) is in the binlogs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newGTIDSelector(mustRanges(t, c.gtids))
			var err error
			for i, tx := range gtidTxns(t, c.binlog...) {
				var p place
				if p, err = s.next(tx); err != nil {
					if i != len(c.want) {
						t.Fatalf("refused transaction %d (%s), want it placed: %v", i, tx.GTID, err)
					}
					break
				}
				if i >= len(c.want) || p != c.want[i] {
					t.Fatalf("transaction %d (%s) placed %d, want the places %v", i, tx.GTID, p, c.want)
				}
				if p == afterRange {
					break
				}
			}
			if err == nil && c.atEnd {
				err = s.end("the binlogs end")
			}
			var re *RefusedError
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("got %v, want a refusal saying %q", err, c.err)
			case c.err == "" && (s.first == nil || s.left != 0):
				t.Fatalf("the range is not whole: first %v, %d named transactions not found", s.first, s.left)
			}
		})
	}
}

// TestGTIDSelectorLater checks that a named GTID found again after the
// range is refused, and other later transactions are not.
func TestGTIDSelectorLater(t *testing.T) {
	s := newGTIDSelector(mustRanges(t, "0-1-5..6"))
	txns := gtidTxns(t, "0-1-5", "0-1-6", "0-1-7", "0-1-6")
	for _, tx := range txns[:2] {
		if p, err := s.next(tx); p != inRange || err != nil {
			t.Fatalf("%s: %d, %v", tx.GTID, p, err)
		}
	}
	if err := s.later(txns[2]); err != nil {
		t.Errorf("a later transaction not named: %v", err)
	}
	err := s.later(txns[3])
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "GTID 0-1-6, which --gtids names, is in the binlogs twice: again after the range, at mysql-bin.000001:400") {
		t.Errorf("a named GTID again after the range: got %v", err)
	}
}

// TestGTIDSelectorFound checks the sequence numbers found, kept as
// merged spans whatever their order, and the list of those not found.
func TestGTIDSelectorFound(t *testing.T) {
	s := newGTIDSelector(mustRanges(t, "0-1-1..20,3-2-100..101"))
	if s.left != 22 {
		t.Fatalf("%d named, want 22", s.left)
	}
	for _, seq := range []uint64{3, 1, 2, 5, 8, 7, 9, 20} {
		if !s.add(0, seq) {
			t.Fatalf("%d found twice", seq)
		}
	}
	if s.add(0, 2) || s.add(0, 8) {
		t.Error("a sequence number found again was not told")
	}
	want := []span{{1, 3}, {5, 5}, {7, 9}, {20, 20}}
	if len(s.found[0]) != len(want) {
		t.Fatalf("spans %v, want %v", s.found[0], want)
	}
	for i := range want {
		if s.found[0][i] != want[i] {
			t.Fatalf("spans %v, want %v", s.found[0], want)
		}
	}
	if s.left != 14 {
		t.Errorf("%d left, want 14", s.left)
	}
	if got, want := s.missing(), "0-1-4..4, 0-1-6..6, 0-1-10..19, 3-2-100..101"; got != want {
		t.Errorf("missing %q, want %q", got, want)
	}
	// 4 and 6 join the spans around them.
	s.add(0, 4)
	s.add(0, 6)
	if len(s.found[0]) != 2 || s.found[0][0] != (span{1, 9}) {
		t.Errorf("spans %v, want 1..9 and 20..20", s.found[0])
	}

	// Many holes: the first ten, then how many more.
	s = newGTIDSelector(mustRanges(t, "0-1-1..30"))
	for seq := uint64(2); seq <= 30; seq += 2 {
		s.add(0, seq)
	}
	if got := s.missing(); !strings.HasPrefix(got, "0-1-1..1, 0-1-3..3") || !strings.HasSuffix(got, "0-1-19..19 and 5 more ranges") {
		t.Errorf("missing %q", got)
	}

	// The largest sequence numbers, and more than binlogs can hold.
	s = newGTIDSelector([]filter.GTIDRange{{Domain: 0, Server: 1, First: math.MaxUint64 - 1, Last: math.MaxUint64},
		{Domain: 1, Server: 1, First: 1, Last: math.MaxUint64}})
	if s.left != math.MaxUint64 {
		t.Errorf("%d left, want the most", s.left)
	}
	if !s.add(0, math.MaxUint64) || s.add(0, math.MaxUint64) || !s.add(0, math.MaxUint64-1) {
		t.Error("the largest sequence numbers")
	}
	if got := s.missing(); got != "1-1-1..18446744073709551615" {
		t.Errorf("missing %q", got)
	}
}

// TestValidateGTIDs checks the options of an undo by GTIDs: --gtids
// alone, not with the start and stop flags, ranges that do not overlap.
func TestValidateGTIDs(t *testing.T) {
	base := func() Options {
		o := DefaultOptions()
		o.Files, o.TargetDSN = []string{"mysql-bin.000001"}, "root@tcp(127.0.0.1:3306)/"
		return o
	}
	pos := txn.Position{File: "mysql-bin.000001", Offset: 400}
	for _, c := range []struct {
		name string
		set  func(o *Options)
		err  string
	}{
		{"ranges", func(o *Options) { o.Range.GTIDs = mustRanges(t, "0-1-5..7,0-1-9..9,0-2-5..7,1-1-5..5") }, ""},
		{"no range at all", func(o *Options) {}, "its transactions by --gtids, or its end by --stop-position or --stop-datetime"},
		{"with a start position", func(o *Options) { o.Range.GTIDs, o.Range.StartPosition = mustRanges(t, "0-1-5..7"), pos }, "not both"},
		{"with a stop position", func(o *Options) { o.Range.GTIDs, o.Range.StopPosition = mustRanges(t, "0-1-5..7"), pos }, "not both"},
		{"with a start datetime", func(o *Options) { o.Range.GTIDs, o.Range.StartDatetime = mustRanges(t, "0-1-5..7"), time.Now() }, "not both"},
		{"with a stop datetime", func(o *Options) { o.Range.GTIDs, o.Range.StopDatetime = mustRanges(t, "0-1-5..7"), time.Now() }, "not both"},
		{"overlapping", func(o *Options) { o.Range.GTIDs = mustRanges(t, "0-1-5..7,1-1-1..1,0-1-7..9") },
			"the ranges 0-1-5..7 and 0-1-7..9 overlap"},
	} {
		o := base()
		c.set(&o)
		err := o.Validate()
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.err)
		}
	}
}
