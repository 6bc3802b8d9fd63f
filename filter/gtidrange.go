package filter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// A MariaDB GTID used as a set, "0-1-5003", is a replication position: it
// holds every transaction of domain 0 up to sequence number 5003, as
// gtid_slave_pos means it. --exclude-gtids keeps that meaning, and also
// takes ranges that name exactly some transactions:
//
//	0-1-5001..5003   the transactions 0-1-5001, 0-1-5002 and 0-1-5003
//	0-1-5003..5003   the transaction 0-1-5003 alone
//
// A range names GTIDs as the binlog shows them: domain, server id and
// sequence number must all match (a transaction of another server id with
// a sequence number in the range is not named). MySQL sets need no range
// syntax: "uuid:5001-5003" already names exactly those transactions.

// GTIDRange names exactly the MariaDB transactions of one domain and
// server id whose sequence numbers run from First to Last (inclusive).
type GTIDRange struct {
	Domain, Server uint32
	First, Last    uint64
}

// ParseGTIDRange parses "D-S-FIRST..LAST", the MariaDB transactions
// D-S-FIRST to D-S-LAST (FIRST at least 1 and at most LAST).
func ParseGTIDRange(s string) (GTIDRange, error) {
	s = strings.TrimSpace(s)
	first, last, ok := strings.Cut(s, "..")
	if !ok {
		return GTIDRange{}, fmt.Errorf("parse GTID range %q: want domain-server-first..last, e.g. 0-1-5001..5003", s)
	}
	g, err := txn.ParseGTID(first)
	if err != nil || g.Flavor != txn.FlavorMariaDB {
		return GTIDRange{}, fmt.Errorf("parse GTID range %q: %q is not a MariaDB GTID domain-server-seq", s, first)
	}
	end, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
	if err != nil {
		return GTIDRange{}, fmt.Errorf("parse GTID range %q: the last sequence number %q is not a number", s, last)
	}
	if end < g.Seq {
		return GTIDRange{}, fmt.Errorf("parse GTID range %q: the last sequence number %d is below the first, %d", s, end, g.Seq)
	}
	return GTIDRange{Domain: g.Domain, Server: g.Server, First: g.Seq, Last: end}, nil
}

// ParseGTIDRanges parses a comma-separated list of GTID ranges (see
// ParseGTIDRange), for a command that must name transactions exactly. A
// MariaDB GTID without a range ("0-1-5003", a position: every transaction
// of its domain up to it) and MySQL GTIDs are refused, saying why. An
// empty string names nothing.
func ParseGTIDRanges(s string) ([]GTIDRange, error) {
	var out []GTIDRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			continue
		case strings.Contains(part, ":"):
			return nil, fmt.Errorf("%q is a MySQL GTID set: only MariaDB GTID ranges domain-server-first..last are taken here", part)
		case !strings.Contains(part, ".."):
			if g, err := txn.ParseGTID(part); err == nil && g.Flavor == txn.FlavorMariaDB {
				return nil, fmt.Errorf("%q is a MariaDB GTID position, every transaction of domain %d up to sequence number %d: "+
					"name transactions exactly with a range, %d-%d-%d..%d for that one alone", part, g.Domain, g.Seq, g.Domain, g.Server, g.Seq, g.Seq)
			}
		}
		r, err := ParseGTIDRange(part)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Contains reports whether g is one of the transactions r names.
func (r GTIDRange) Contains(g txn.GTID) bool {
	return g.Flavor == txn.FlavorMariaDB && g.Domain == r.Domain && g.Server == r.Server &&
		g.Seq >= r.First && g.Seq <= r.Last
}

// String formats r as ParseGTIDRange reads it.
func (r GTIDRange) String() string {
	return fmt.Sprintf("%d-%d-%d..%d", r.Domain, r.Server, r.First, r.Last)
}

// GTIDs is a list of transactions as --exclude-gtids names them: a GTID
// set in either syntax (a MariaDB d-s-n meaning every transaction of
// domain d up to n, see txn.GTIDSet) and MariaDB ranges naming exactly
// some transactions. The zero value names none.
type GTIDs struct {
	Set    txn.GTIDSet
	Ranges []GTIDRange
}

// ParseGTIDs parses a comma-separated list whose items are GTID ranges
// ("0-1-5001..5003", see ParseGTIDRange) or GTID set items in MySQL or
// MariaDB syntax ("uuid:1-5", "0-1-100"). An empty string names nothing.
func ParseGTIDs(s string) (GTIDs, error) {
	var out GTIDs
	var set []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.Contains(part, ".."):
			r, err := ParseGTIDRange(part)
			if err != nil {
				return GTIDs{}, err
			}
			out.Ranges = append(out.Ranges, r)
		default:
			set = append(set, part)
		}
	}
	var err error
	if out.Set, err = txn.ParseGTIDSet(strings.Join(set, ",")); err != nil {
		return GTIDs{}, err
	}
	return out, nil
}

// Contains reports whether g is among the transactions gs names.
func (gs GTIDs) Contains(g txn.GTID) bool {
	if gs.Set.Contains(g) {
		return true
	}
	for _, r := range gs.Ranges {
		if r.Contains(g) {
			return true
		}
	}
	return false
}

// IsEmpty reports whether gs names no transaction.
func (gs GTIDs) IsEmpty() bool { return gs.Set.IsEmpty() && len(gs.Ranges) == 0 }

// String formats gs as ParseGTIDs reads it: the set, then the ranges.
func (gs GTIDs) String() string {
	parts := make([]string, 0, 1+len(gs.Ranges))
	if !gs.Set.IsEmpty() {
		parts = append(parts, gs.Set.String())
	}
	for _, r := range gs.Ranges {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ",")
}

// ExcludeWide returns an error when a MariaDB position of --exclude-gtids
// (d-s-n, every transaction of domain d up to n) skips t and t is not the
// position's own transaction (sequence number n), nor skipped by
// --start-gtid or named by a range: an operator naming one transaction
// with a position would skip every one before it in silence. Call it for
// every transaction the replay would otherwise apply (for one read in
// pieces, its first).
func (f *Filter) ExcludeWide(t *txn.Txn) error {
	g, x := t.GTID, f.o.ExcludeGTIDs
	if g.IsZero() || g.Flavor != txn.FlavorMariaDB || f.o.StartGTIDs.Contains(g) {
		return nil
	}
	n, ok := x.Set.DomainSeq(g.Domain)
	if !ok || g.Seq >= n {
		return nil // not skipped by the position, or its own transaction
	}
	for _, r := range x.Ranges {
		if r.Contains(g) {
			return nil
		}
	}
	return fmt.Errorf("--exclude-gtids holds a MariaDB GTID position of domain %d at sequence number %d, which names every transaction "+
		"of the domain up to it, so it skips transaction %s at %s too, which the replay would otherwise apply: to skip one transaction, "+
		"give it as a range (%d-%d-%d..%d for that one alone); to skip these, give them as a range (%d-%d-%d..%d) or start after them (--start-gtid)",
		g.Domain, n, g, t.Start, g.Domain, g.Server, n, n, g.Domain, g.Server, g.Seq, n)
}
