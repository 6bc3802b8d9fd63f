package filter

import (
	"fmt"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// Stops describes the stop options set, as flags ("--stop-before-gtid
// 0-1-5, --stop-datetime ..."), "" when none is.
func (f *Filter) Stops() string {
	o := &f.o
	var out []string
	if !o.StopBeforeGTID.IsZero() {
		out = append(out, "--stop-before-gtid "+o.StopBeforeGTID.String())
	}
	if !o.StopDatetime.IsZero() {
		out = append(out, "--stop-datetime "+o.StopDatetime.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if !o.StopPosition.IsZero() {
		out = append(out, "--stop-position "+o.StopPosition.String())
	}
	return strings.Join(out, ", ")
}

// StopPassed returns why a stop option is already behind the point where
// reading starts, "" when none is: start is that point, atStart the GTID
// history of the binlogs before it, lastTime the commit time of the last
// transaction applied before it (zero when unknown). A replay must then
// apply nothing: everything it would apply lies after the stop point.
func (f *Filter) StopPassed(start txn.Position, atStart txn.GTIDSet, lastTime time.Time) string {
	o := &f.o
	switch {
	case !o.StopPosition.IsZero() && !start.IsZero() && f.before(o.StopPosition, start):
		return fmt.Sprintf("the start point %s is past --stop-position %s", start, o.StopPosition)
	case !o.StopDatetime.IsZero() && !lastTime.IsZero() && !lastTime.Before(o.StopDatetime):
		return fmt.Sprintf("the last transaction applied before the start point %s was committed at %s, not before --stop-datetime %s",
			start, lastTime.UTC().Format("2006-01-02 15:04:05"), o.StopDatetime.UTC().Format("2006-01-02 15:04:05 MST"))
	case o.StopBeforeGTID.IsZero():
		return ""
	}
	stop, at := o.StopBeforeGTID, start.String()
	if start.IsZero() {
		at = "(the GTID position a source server started at)"
	}
	if stop.Flavor == txn.FlavorMariaDB {
		if seq, ok := atStart.DomainSeq(stop.Domain); ok && seq >= stop.Seq {
			return fmt.Sprintf("the binlogs before the start point %s already reach sequence number %d of domain %d, "+
				"at or beyond --stop-before-gtid %s", at, seq, stop.Domain, stop)
		}
		return ""
	}
	if atStart.Contains(stop) {
		return fmt.Sprintf("the binlogs before the start point %s already hold --stop-before-gtid %s", at, stop)
	}
	return ""
}

// StopHeld returns why the stop point, met at t (Stop or StopAt said so),
// lies behind what the target holds, "" when it does not: --start-gtid
// skips t, the target already holds it (a transaction of the base, or
// before it, committed at or after --stop-datetime, or the
// --stop-before-gtid itself). The replay refuses such a stop when no
// transaction before t is applied.
func (f *Filter) StopHeld(t *txn.Txn) string {
	if !f.o.StartGTIDs.Contains(t.GTID) {
		return ""
	}
	return fmt.Sprintf("the stop point is met at transaction %s at %s, which --start-gtid %s says the target already holds",
		t.GTID, t.Start, f.o.StartGTIDs)
}

// StopBeforeStart returns why --stop-datetime lies behind the start point
// when t, a transaction before it (the base holds it), was committed at or
// after it: the first transaction committed at or after that time is
// already on the target. "" when it was committed before.
func (f *Filter) StopBeforeStart(t *txn.Txn, start txn.Position) string {
	if f.o.StopDatetime.IsZero() || t.Time.Before(f.o.StopDatetime) {
		return ""
	}
	name := "#" + fmt.Sprint(t.Seq)
	if !t.GTID.IsZero() {
		name = t.GTID.String()
	}
	return fmt.Sprintf("transaction %s at %s, before the start point %s, was committed at %s, at or after --stop-datetime %s: "+
		"the target, restored to the start point, already holds it (is the base backup newer than the stop time?)",
		name, t.Start, start, t.Time.UTC().Format("2006-01-02 15:04:05"), f.o.StopDatetime.UTC().Format("2006-01-02 15:04:05 MST"))
}

// StopUnknown returns why --stop-before-gtid stop can never be met in
// binlogs whose whole GTID history is end: its domain (source UUID) does
// not occur there. "" when it does.
func StopUnknown(stop txn.GTID, end txn.GTIDSet) string {
	if stop.IsZero() {
		return ""
	}
	if stop.Flavor == txn.FlavorMariaDB {
		if _, ok := end.DomainSeq(stop.Domain); ok {
			return ""
		}
		return fmt.Sprintf("--stop-before-gtid %s names domain %d, which these binlogs never mention (they hold %s)",
			stop, stop.Domain, orNone(end.String()))
	}
	if !end.Source(stop.Source).IsEmpty() {
		return ""
	}
	return fmt.Sprintf("--stop-before-gtid %s names source %s, which these binlogs never mention (they hold %s)",
		stop, stop.Source, orNone(end.String()))
}

func orNone(s string) string {
	if s == "" {
		return "no GTIDs"
	}
	return s
}

// Reached reports whether reading that went on to position end has passed
// position p: p is at or before end in the files' order.
func (f *Filter) Reached(p, end txn.Position) bool {
	return !end.IsZero() && (p == end || f.before(p, end))
}
