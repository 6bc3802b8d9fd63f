package binlogtext

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"
)

// Stop is the stop point a replay is given and what the oracle expects of
// it, computed from mariadb-binlog's text (BinTxn), not by binlog-replay.
type Stop struct {
	// Desc says how the stop point was chosen, e.g. "position mid #17".
	Desc string
	// Args are the replay's stop flags (none for a replay to the end).
	Args []string
	// Index is how many transactions (from the start) come before the
	// stop point: the replay applies txns[:Index].
	Index int
	// NeverMet is true when the binlogs end before the stop point.
	NeverMet bool
	// UnknownDomain is true for a --stop-before-gtid in a domain the
	// binlogs never mention.
	UnknownDomain bool
	// Time is the time of a --stop-datetime (zero for other stops).
	Time time.Time
}

// PosBefore reports whether binlog position (fa, a) comes before (fb, b).
// Binlog names share a prefix and a zero-padded number: they sort as text.
func PosBefore(fa string, a uint64, fb string, b uint64) bool {
	if fa != fb {
		return fa < fb
	}
	return a < b
}

// BinEnd is where the binlogs end: the last file (the empty one the
// source's final FLUSH BINARY LOGS opened) and its size.
type BinEnd struct {
	File string
	Size uint64
}

// ChooseStop draws a stop point among the kinds the features allow; end is
// where the binlogs end.
func ChooseStop(rng *rand.Rand, fs seedgen.Features, txns []BinTxn, end BinEnd) Stop {
	var kinds []func(*rand.Rand, []BinTxn, bool) Stop
	if fs[seedgen.FeatStopPos] {
		kinds = append(kinds, func(rng *rand.Rand, txns []BinTxn, never bool) Stop {
			return stopAtPosition(rng, txns, never, end)
		})
	}
	if fs[seedgen.FeatStopTime] {
		kinds = append(kinds, stopAtDatetime)
	}
	if fs[seedgen.FeatStopGTID] {
		kinds = append(kinds, stopBeforeGTID)
	}
	if len(kinds) == 0 || len(txns) == 0 || rng.IntN(4) == 0 {
		return Stop{Desc: "none", Index: len(txns)}
	}
	never := fs[seedgen.FeatStopNever] && rng.IntN(3) == 0
	return kinds[rng.IntN(len(kinds))](rng, txns, never)
}

// stopAtPosition picks --stop-position: at a transaction's end, inside
// it, at its start; with never, past the end of the binlogs (never met),
// at their very end, or past the end of the last transaction's file when
// later files follow (both reached).
func stopAtPosition(rng *rand.Rand, txns []BinTxn, never bool, end BinEnd) Stop {
	last := txns[len(txns)-1]
	if never {
		switch rng.IntN(4) {
		case 0:
			return posStop("past the end", end.File, end.Size+1000, txns, end)
		case 1:
			return posStop("a later file", nextFileName(end.File), 4, txns, end)
		case 2:
			return posStop("at the very end", end.File, end.Size, txns, end)
		default:
			return posStop("past the end of the last transaction's file", last.File, last.End+1000, txns, end)
		}
	}
	t := txns[rng.IntN(len(txns))]
	switch rng.IntN(3) {
	case 0:
		return posStop("at an end", t.File, t.End, txns, end)
	case 1:
		off := t.Start + 1
		if t.End-t.Start > 2 {
			off += uint64(rng.Int64N(int64(t.End - t.Start - 1)))
		}
		return posStop("inside a transaction", t.File, off, txns, end)
	default:
		return posStop("at a start", t.File, t.Start, txns, end)
	}
}

// posStop expects the replay to stop before the first transaction that
// does not end at or before file:off. When every transaction does, the
// stop point is met if the binlogs reach it (it is at or before their
// end), never met otherwise.
func posStop(desc, file string, off uint64, txns []BinTxn, end BinEnd) Stop {
	s := Stop{Desc: "position " + desc, Args: []string{"--stop-position", fmt.Sprintf("%s:%d", file, off)}}
	s.Index = len(txns)
	for i, t := range txns {
		if PosBefore(file, off, t.File, t.End) {
			s.Index = i
			break
		}
	}
	s.NeverMet = s.Index == len(txns) && PosBefore(end.File, end.Size, file, off)
	return s
}

// nextFileName returns the binlog name after name (mysql-bin.000007 ->
// mysql-bin.000008).
func nextFileName(name string) string {
	i := strings.LastIndexByte(name, '.')
	n, err := strconv.Atoi(name[i+1:])
	if i < 0 || err != nil {
		return name + ".1"
	}
	return fmt.Sprintf("%s.%0*d", name[:i], len(name)-i-1, n+1)
}

// stopAtDatetime picks --stop-datetime: a transaction's commit second, half
// a second after it, before everything, or after everything.
func stopAtDatetime(rng *rand.Rand, txns []BinTxn, never bool) Stop {
	maxT := txns[0].Time
	for _, t := range txns {
		if t.Time.After(maxT) {
			maxT = t.Time
		}
	}
	if never {
		return timeStop("after the end", maxT.Add(time.Hour), txns)
	}
	t := txns[rng.IntN(len(txns))].Time
	switch rng.IntN(6) {
	case 0:
		return timeStop("before everything", txns[0].Time.Add(-time.Hour), txns)
	case 1, 2:
		return timeStop("half a second after a commit", t.Add(500*time.Millisecond), txns)
	default:
		return timeStop("at a commit", t, txns)
	}
}

// timeStop expects the replay to stop before the first transaction
// committed at or after at.
func timeStop(desc string, at time.Time, txns []BinTxn) Stop {
	s := Stop{Desc: "datetime " + desc, Args: []string{"--stop-datetime", at.UTC().Format(time.RFC3339Nano)}, Time: at}
	s.Index = len(txns)
	for i, t := range txns {
		if !t.Time.Before(at) {
			s.Index = i
			break
		}
	}
	s.NeverMet = s.Index == len(txns)
	return s
}

// stopBeforeGTID picks --stop-before-gtid: a transaction's GTID, or one
// never logged: past the end of its domain, of another server id in the
// domain (met at the first transaction of the domain at or beyond its
// sequence number, as START SLAVE UNTIL), or in a domain the binlogs never
// mention (refused).
func stopBeforeGTID(rng *rand.Rand, txns []BinTxn, never bool) Stop {
	var logged []int // the transactions with a GTID (not a crash's cut first event)
	for i, t := range txns {
		if t.GTID != "" {
			logged = append(logged, i)
		}
	}
	if len(logged) == 0 {
		return Stop{Desc: "none", Index: len(txns)}
	}
	if !never {
		i := logged[rng.IntN(len(logged))]
		return Stop{Desc: "gtid of a transaction", Args: []string{"--stop-before-gtid", txns[i].GTID}, Index: i}
	}
	domain, server, seq := SplitGTID(txns[logged[len(logged)-1]].GTID)
	s := Stop{Index: len(txns), NeverMet: true}
	var g string
	switch rng.IntN(3) {
	case 0:
		// Past the domain's highest sequence number, not only its last
		// one's: they need not rise along the binlogs.
		for _, t := range txns {
			if d, _, n := SplitGTID(t.GTID); d == domain && n > seq {
				seq = n
			}
		}
		s.Desc, g = "gtid past the end", fmt.Sprintf("%d-%d-%d", domain, server, seq+5)
	case 1:
		_, _, n := SplitGTID(txns[logged[rng.IntN(len(logged))]].GTID)
		s.Desc, g = "gtid of another server id", fmt.Sprintf("%d-%d-%d", domain, server+1, n)
		s.Index = FirstAtOrBeyond(txns, domain, n)
		s.NeverMet = s.Index == len(txns)
	default:
		s.Desc, g = "gtid of an unknown domain", fmt.Sprintf("%d-%d-%d", domain+7, server, 1+rng.IntN(int(seq)))
		s.NeverMet, s.UnknownDomain = false, true
	}
	s.Args = []string{"--stop-before-gtid", g}
	return s
}

// FirstAtOrBeyond returns the index of the first transaction of domain
// whose sequence number is at least seq (len(txns) when none is).
func FirstAtOrBeyond(txns []BinTxn, domain, seq uint64) int {
	for i, t := range txns {
		if d, _, n := SplitGTID(t.GTID); d == domain && n >= seq {
			return i
		}
	}
	return len(txns)
}

// SplitGTID parses a MariaDB GTID domain-server-seq (zeros when it cannot).
func SplitGTID(g string) (domain, server, seq uint64) {
	parts := strings.Split(g, "-")
	if len(parts) != 3 {
		return 0, 0, 0
	}
	domain, _ = strconv.ParseUint(parts[0], 10, 32)
	server, _ = strconv.ParseUint(parts[1], 10, 32)
	seq, _ = strconv.ParseUint(parts[2], 10, 64)
	return domain, server, seq
}
