package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/txn"
)

// txnFacts is what counting one transaction found that the stop-point
// search needs.
type txnFacts struct {
	queries []queryFact
	deleted []tableRows
	updated []tableRows
	// gtidRepeat is true when an earlier transaction had the same GTID.
	gtidRepeat bool
}

type queryFact struct {
	q   *txn.Query
	cls stmtClass
}

type tableRows struct {
	table string
	n     uint64
}

func (f *txnFacts) reset() {
	f.queries, f.deleted, f.updated = f.queries[:0], f.deleted[:0], f.updated[:0]
	f.gtidRepeat = false
}

// addRows counts n rows of op on table.
func (f *txnFacts) addRows(op txn.Op, table string, n uint64) {
	var list *[]tableRows
	switch op {
	case txn.OpDelete:
		list = &f.deleted
	case txn.OpUpdate:
		list = &f.updated
	default:
		return
	}
	for i := range *list {
		if (*list)[i].table == table {
			(*list)[i].n += n
			return
		}
	}
	*list = append(*list, tableRows{table, n})
}

func totalRows(list []tableRows) uint64 {
	var n uint64
	for _, tr := range list {
		n += tr.n
	}
	return n
}

// describeRows formats "DELETE of 2000 rows: db.t (2000)".
func describeRows(verb string, list []tableRows) string {
	parts := make([]string, len(list))
	for i, tr := range list {
		parts[i] = fmt.Sprintf("%s (%d)", tr.table, tr.n)
	}
	return fmt.Sprintf("%s of %d rows: %s", verb, totalRows(list), strings.Join(parts, ", "))
}

// stopFinder finds the stop-point candidates and the flags that stop just
// before each. It sees every transaction read, in binlog order.
type stopFinder struct {
	opts *Options
	// marks are the transactions where the running maximum of commit
	// times rose: the first transaction committed at or after any time T
	// is the first mark at or after T.
	marks []timeMark
	// beyond is, per MariaDB domain, the first transaction of the highest
	// sequence number seen so far: --stop-before-gtid D-S-N stops before
	// the first transaction of domain D at or beyond N.
	beyond map[uint32]*txn.Ref
	seqs   map[uint32]uint64
}

type timeMark struct {
	time time.Time
	ref  *txn.Ref
}

func newStopFinder(o *Options) *stopFinder { return &stopFinder{opts: o} }

// seen records t as read, after check.
func (s *stopFinder) seen(t *txn.Txn) {
	if n := len(s.marks); n == 0 || t.Time.After(s.marks[n-1].time) {
		s.marks = append(s.marks, timeMark{t.Time, t.Ref()})
	}
	if g := t.GTID; g.Flavor == txn.FlavorMariaDB && !g.IsZero() {
		if s.beyond == nil {
			s.beyond, s.seqs = map[uint32]*txn.Ref{}, map[uint32]uint64{}
		}
		if seq, ok := s.seqs[g.Domain]; !ok || g.Seq > seq {
			s.beyond[g.Domain], s.seqs[g.Domain] = t.Ref(), g.Seq
		}
	}
}

// check returns t as a candidate, or nil when it is neither a DDL nor
// destructive.
func (s *stopFinder) check(t *txn.Txn, f *txnFacts) *Candidate {
	var kinds, details []string
	var schema string
	destructive := false
	for _, qf := range f.queries {
		if qf.cls.kind == "" && !(qf.cls.ddl && t.Kind == txn.KindDDL) {
			continue
		}
		kind := qf.cls.kind
		if kind == "" {
			kind = "ddl"
		} else {
			destructive = true
		}
		kinds = append(kinds, kind)
		sql := qf.q.SQL
		if s.opts.HideValues {
			sql = []byte(redact.SQL(string(sql)))
		}
		details = append(details, shortSQL(sql, 160))
		if schema == "" {
			schema = qf.q.Schema
		}
	}
	if n := totalRows(f.deleted); n > uint64(s.opts.BigRows) {
		kinds, destructive = append(kinds, "big-delete"), true
		details = append(details, describeRows("DELETE", f.deleted))
	}
	if n := totalRows(f.updated); n > uint64(s.opts.BigRows) {
		kinds, destructive = append(kinds, "big-update"), true
		details = append(details, describeRows("UPDATE", f.updated))
	}
	if len(kinds) == 0 {
		return nil
	}
	c := &Candidate{Ref: *t.Ref(), Kind: kinds[0], Destructive: destructive,
		Detail: strings.Join(details, "; "), Schema: schema}
	s.stopFlags(t, c, f.gtidRepeat)
	if destructive {
		s.undoOf(t, c)
	}
	return c
}

// stopFlags fills in the flags that stop just before t, and warns where
// one would stop earlier.
func (s *stopFinder) stopFlags(t *txn.Txn, c *Candidate, gtidRepeat bool) {
	// The replay stops before the first transaction not ending at or
	// before --stop-position: t.Start is t's predecessor's End.
	c.StopPosition = t.Start.String()
	c.Flags = append(c.Flags, "--stop-position "+c.StopPosition)

	// It stops before the first transaction committed at or after
	// --stop-datetime, which has whole seconds.
	sec := t.Time.Truncate(time.Second)
	c.StopDatetime = sec.In(s.opts.Location).Format("2006-01-02 15:04:05")
	c.Flags = append(c.Flags, "--stop-datetime '"+c.StopDatetime+"'")
	if i := sort.Search(len(s.marks), func(i int) bool { return !s.marks[i].time.Before(sec) }); i < len(s.marks) {
		m := s.marks[i].ref
		c.Warnings = append(c.Warnings, fmt.Sprintf(
			"--stop-datetime '%s' stops earlier, before #%d at %s (committed %s, the same second or later)",
			c.StopDatetime, m.Seq, m.Start, m.Time.In(s.opts.Location).Format("2006-01-02 15:04:05")))
	}

	if t.GTID.IsZero() {
		return
	}
	g := t.GTID.String()
	if parsed, err := txn.ParseGTID(g); err != nil || parsed != t.GTID {
		c.Warnings = append(c.Warnings, fmt.Sprintf("GTID %s does not parse back to itself: no --stop-before-gtid", g))
		return
	}
	c.StopBeforeGTID = g
	c.Flags = append(c.Flags, "--stop-before-gtid "+g)
	if b := s.beyond[t.GTID.Domain]; t.GTID.Flavor == txn.FlavorMariaDB && b != nil && s.seqs[t.GTID.Domain] >= t.GTID.Seq && b.GTID != g {
		c.Warnings = append(c.Warnings, fmt.Sprintf("#%d at %s (GTID %s) comes earlier with a sequence number at or beyond %d "+
			"(sequence numbers out of order): reading files, the replay refuses --stop-before-gtid %s; use --stop-position",
			b.Seq, b.Start, b.GTID, t.GTID.Seq, g))
	}
	if gtidRepeat {
		c.Warnings = append(c.Warnings, fmt.Sprintf("GTID %s appears earlier in the binlogs: --stop-before-gtid stops before the first one", g))
	}
}
