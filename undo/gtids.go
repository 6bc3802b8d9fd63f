package undo

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The range by GTIDs (Options.Range.GTIDs). An undo reverses one run of
// consecutive transactions of the binlogs, as a whole, and reads the
// later writes after its end; so the transactions the GTID ranges name
// must be exactly such a run: each found once, and no other transaction
// between them. The binlogs are read from their start: the transactions
// before the first named one are passed over, the range is the named
// ones, and it ends at the first transaction after them that is not
// named. Refused, before anything is written:
//   - a transaction that is not named, between named ones (the run is not
//     contiguous: it would have to be undone too, or the runs one by one);
//   - a named transaction found twice (in the range, or in the binlogs
//     read after it for later writes): which one is meant cannot be told;
//   - named transactions the binlogs do not hold (by the end of the
//     binlogs, or by the first transaction after the range).

// checkGTIDRanges refuses ranges that name a transaction twice.
func checkGTIDRanges(rs []filter.GTIDRange) error {
	for i, a := range rs {
		for _, b := range rs[:i] {
			if a.Domain == b.Domain && a.Server == b.Server && a.First <= b.Last && b.First <= a.Last {
				return fmt.Errorf("--gtids: the ranges %s and %s overlap: name each transaction once", b, a)
			}
		}
	}
	return nil
}

// span is an interval of sequence numbers, inclusive.
type span struct{ lo, hi uint64 }

// gtidSelector tells, transaction after transaction, whether it is before
// the range the GTID ranges name, in it, or after it.
type gtidSelector struct {
	ranges []filter.GTIDRange
	// found are, per range, the sequence numbers found, sorted and
	// merged; left counts the named transactions not found yet.
	found [][]span
	left  uint64
	// first and last are the first and last named transactions found.
	first, last *txn.Ref
}

// place says where a transaction is, relative to the range.
type place int

const (
	beforeRange place = iota
	inRange
	afterRange
)

func newGTIDSelector(rs []filter.GTIDRange) *gtidSelector {
	s := &gtidSelector{ranges: rs, found: make([][]span, len(rs))}
	for _, r := range rs {
		n := r.Last - r.First + 1 // First is at least 1 (ParseGTIDRange)
		if s.left > math.MaxUint64-n {
			s.left = math.MaxUint64 // more than binlogs can hold: never all found
			continue
		}
		s.left += n
	}
	return s
}

// names returns the index of the range that names g, -1 when none does.
func (s *gtidSelector) names(g txn.GTID) int {
	for i, r := range s.ranges {
		if r.Contains(g) {
			return i
		}
	}
	return -1
}

// next places the transaction t, given its first piece (or whole), and
// refuses what the range cannot be (see above).
func (s *gtidSelector) next(t *txn.Txn) (place, error) {
	i := s.names(t.GTID)
	switch {
	case i < 0 && s.first == nil:
		return beforeRange, nil
	case i < 0 && s.left == 0:
		return afterRange, nil
	case i < 0:
		return 0, &RefusedError{Why: fmt.Sprintf("the transactions --gtids names are not consecutive in the binlogs: %s "+
			"comes after the named one at %s but is not named, and named ones are not found before it (%s). An undo reverses one run of "+
			"consecutive transactions: name every transaction of the run (that one too), or undo each run on its own, the latest first",
			describeTxn(t.Ref()), at(s.last), s.missing())}
	case !s.add(i, t.GTID.Seq):
		return 0, s.twice(t, "in the range")
	}
	ref := t.Ref()
	if s.first == nil {
		s.first = ref
	}
	s.last = ref
	return inRange, nil
}

// later refuses a transaction after the range that bears a named GTID.
func (s *gtidSelector) later(t *txn.Txn) error {
	if s.names(t.GTID) < 0 {
		return nil
	}
	return s.twice(t, "after the range")
}

func (s *gtidSelector) twice(t *txn.Txn, where string) error {
	return &RefusedError{Why: fmt.Sprintf("GTID %s, which --gtids names, is in the binlogs twice: again %s, at %s. "+
		"Which one is meant cannot be told: select the range by --start-position and --stop-position", t.GTID, where, t.Start)}
}

// end refuses the range when the binlogs ended before every named
// transaction was found.
func (s *gtidSelector) end(why string) error {
	switch {
	case s.left == 0:
		return nil
	case s.first == nil:
		return &RefusedError{Why: fmt.Sprintf("none of the transactions --gtids names (%s) is in the binlogs: give the binlog "+
			"files that hold them (a range names GTIDs as the binlog shows them: domain, server id and sequence number)", s.rangesString())}
	}
	return &RefusedError{Why: fmt.Sprintf("--gtids names transactions the binlogs do not hold: %s (%s after the last named one found, at %s); "+
		"give the binlog files that hold them (a range names GTIDs as the binlog shows them: domain, server id and sequence number)",
		s.missing(), why, at(s.last))}
}

// add records the sequence number seq of range i as found, and returns
// false when it was found before.
func (s *gtidSelector) add(i int, seq uint64) bool {
	f := s.found[i]
	// j is the first span that ends at or after seq-1 (it may take seq;
	// seq and every lo are at least 1).
	j := sort.Search(len(f), func(j int) bool { return f[j].hi >= seq-1 })
	switch {
	case j < len(f) && f[j].lo <= seq && seq <= f[j].hi:
		return false
	case j < len(f) && f[j].hi == seq-1:
		f[j].hi = seq
		if j+1 < len(f) && f[j+1].lo-1 == seq { // it joins the next span
			f[j].hi = f[j+1].hi
			f = append(f[:j+1], f[j+2:]...)
		}
	case j < len(f) && f[j].lo-1 == seq:
		f[j].lo = seq
	default:
		f = append(f, span{})
		copy(f[j+1:], f[j:])
		f[j] = span{seq, seq}
	}
	s.found[i] = f
	s.left--
	return true
}

// missing lists the named transactions not found yet, as ranges (the
// first ten, then how many more).
func (s *gtidSelector) missing() string {
	var parts []string
	more := 0
	note := func(r filter.GTIDRange, lo, hi uint64) {
		if len(parts) == 10 {
			more++
			return
		}
		r.First, r.Last = lo, hi
		parts = append(parts, r.String())
	}
	for i, r := range s.ranges {
		lo := r.First
		for _, f := range s.found[i] {
			if f.lo > lo {
				note(r, lo, f.lo-1)
			}
			lo = f.hi + 1
		}
		if lo <= r.Last && lo != 0 { // lo is 0 when the last span ends at the largest sequence number
			note(r, lo, r.Last)
		}
	}
	out := strings.Join(parts, ", ")
	if more > 0 {
		out += fmt.Sprintf(" and %d more ranges", more)
	}
	return out
}

// rangesString is the ranges as --gtids names them.
func (s *gtidSelector) rangesString() string {
	parts := make([]string, len(s.ranges))
	for i, r := range s.ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// describeTxn names a transaction in a message: where it starts, and its
// GTID.
func describeTxn(r *txn.Ref) string { return "the transaction at " + at(r) }

// at is where the transaction r starts, and its GTID.
func at(r *txn.Ref) string {
	if r.GTID == "" {
		return r.Start.String() + " (without a GTID)"
	}
	return r.Start.String() + " (GTID " + r.GTID + ")"
}
