package filter

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

func TestParseGTIDRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want GTIDRange
		err  string
	}{
		{"0-1-5001..5003", GTIDRange{Domain: 0, Server: 1, First: 5001, Last: 5003}, ""},
		{" 2-7-5003..5003 ", GTIDRange{Domain: 2, Server: 7, First: 5003, Last: 5003}, ""},
		{"0-1-5003..5001", GTIDRange{}, "below the first"},
		{"0-1-0..3", GTIDRange{}, "not a MariaDB GTID"},
		{"0-1..3", GTIDRange{}, "not a MariaDB GTID"},
		{"0-1-5..x", GTIDRange{}, "not a number"},
		{"0-1-5", GTIDRange{}, "want domain-server-first..last"},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:5..7", GTIDRange{}, "not a MariaDB GTID"},
	} {
		got, err := ParseGTIDRange(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
		case got != c.want:
			t.Errorf("%q: %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestGTIDsNamesExactly checks that a range names exactly its transactions
// (domain, server id and sequence number), while a MariaDB GTID without a
// range keeps meaning everything of its domain up to it.
func TestGTIDsNamesExactly(t *testing.T) {
	g := func(d, s uint32, seq uint64) txn.GTID {
		return txn.GTID{Flavor: txn.FlavorMariaDB, Domain: d, Server: s, Seq: seq}
	}
	gs, err := ParseGTIDs("0-1-5001..5003, 1-2-40, 3e11fa47-71ca-11e1-9e33-c80aa9429562:7-9, 0-1-6000..6000")
	if err != nil {
		t.Fatal(err)
	}
	mysql := func(seq uint64) txn.GTID {
		return txn.GTID{Flavor: txn.FlavorMySQL, Source: "3e11fa47-71ca-11e1-9e33-c80aa9429562", Seq: seq}
	}
	for _, c := range []struct {
		g    txn.GTID
		want bool
	}{
		{g(0, 1, 5000), false}, {g(0, 1, 5001), true}, {g(0, 1, 5003), true}, {g(0, 1, 5004), false},
		{g(0, 2, 5002), false}, // another server id
		{g(5, 1, 5002), false}, // another domain
		{g(0, 1, 6000), true}, {g(0, 1, 5999), false},
		{g(1, 9, 1), true}, {g(1, 2, 40), true}, {g(1, 2, 41), false}, // a position: every GTID of domain 1 up to 40
		{mysql(6), false}, {mysql(7), true}, {mysql(9), true}, {mysql(10), false},
		{txn.GTID{}, false},
	} {
		if got := gs.Contains(c.g); got != c.want {
			t.Errorf("%s: contained %v, want %v", c.g, got, c.want)
		}
	}
	if s := gs.String(); s != "1-2-40,3e11fa47-71ca-11e1-9e33-c80aa9429562:7-9,0-1-5001..5003,0-1-6000..6000" {
		t.Errorf("String() = %q", s)
	}
	if again, err := ParseGTIDs(gs.String()); err != nil || again.String() != gs.String() {
		t.Errorf("round trip: %q, %v", again.String(), err)
	}
	if empty, err := ParseGTIDs(" "); err != nil || !empty.IsEmpty() || empty.Contains(g(0, 1, 1)) {
		t.Errorf("empty list: %+v, %v", empty, err)
	}
	if _, err := ParseGTIDs("0-1-5..3"); err == nil {
		t.Error("a bad range was accepted")
	}
}

// TestParseGTIDRanges checks the list of ranges a command that names
// transactions exactly takes: ranges only, a MariaDB position and a MySQL
// set refused, saying why.
func TestParseGTIDRanges(t *testing.T) {
	got, err := ParseGTIDRanges(" 0-1-5001..5003, 1-2-7..7 ,")
	want := []GTIDRange{{Domain: 0, Server: 1, First: 5001, Last: 5003}, {Domain: 1, Server: 2, First: 7, Last: 7}}
	if err != nil || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if got, err := ParseGTIDRanges(""); err != nil || got != nil {
		t.Errorf("empty: got %+v, %v", got, err)
	}
	for in, wantErr := range map[string]string{
		"0-1-5003":                "a MariaDB GTID position, every transaction of domain 0 up to sequence number 5003: name transactions exactly with a range, 0-1-5003..5003",
		"0-1-5001..5003,0-1-6000": `"0-1-6000" is a MariaDB GTID position`,
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-7":  "MySQL GTID set",
		"0-1-5001..5003, 0-1-9..3":                  "below the first",
		"banana":                                    "want domain-server-first..last",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:5..7": "MySQL GTID set",
		"0-1-5001..5003,,2-1-1..x":                  "not a number",
	} {
		if _, err := ParseGTIDRanges(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one saying %q", in, err, wantErr)
		}
	}
}
