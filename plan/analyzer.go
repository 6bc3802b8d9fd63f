package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/temptables"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// analyzer takes the transactions in binlog order and fills a Report.
type analyzer struct {
	opts   *Options
	rep    *Report
	filter *filter.Filter
	// rewriter applies --rewrite-db (nil without it).
	rewriter *rewrite.Rewriter
	stops    *stopFinder
	par      *parallel

	tables  map[string]*TableCount
	srv     serverTally
	facts   txnFacts
	gtid    gtidTally
	names   tableNames
	stopped bool // the predicted replay has stopped
	// temps follows the temporary tables the statements open, as the
	// replay does, to predict its refusal of a statement using one
	// created before the start point.
	temps temptables.Tables

	// The last transactions read and applied, copied into the report by
	// finish (a pointer per transaction would be garbage).
	lastRead, lastApplied txn.Ref
}

// serverTally is the servers that wrote the binlogs, as first seen.
type serverTally struct {
	byKey map[string]*ServerInfo // flavor + version -> files
	order []string               // keys of byKey, as first seen
}

// gtidTally is the GTIDs seen, by stream.
type gtidTally struct {
	streams map[string]*gtidStream
	set     txn.GTIDSet
	names   map[[2]uint32]string // MariaDB domain, server -> stream name
}

func newAnalyzer(o *Options, rep *Report) *analyzer {
	rep.Contents.ByKind = map[string]uint64{}
	rw, _ := o.rewriter() // checked by Validate
	f := filter.New(o.filterOptions())
	if o.Source != nil && o.StartPosition.IsZero() && o.Source.StartGTID != "" {
		f.StartPassed() // the source sends what follows its GTID position
	}
	return &analyzer{rewriter: rw,
		opts: o, rep: rep, filter: f, stops: newStopFinder(o),
		par:    newParallel(o),
		tables: map[string]*TableCount{}, srv: serverTally{byKey: map[string]*ServerInfo{}},
		gtid: gtidTally{streams: map[string]*gtidStream{}, names: map[[2]uint32]string{}}, names: tableNames{},
	}
}

// add analyses one transaction.
func (a *analyzer) add(t *txn.Txn) {
	a.count(t)
	cand := a.stops.check(t, &a.facts) // before the include filters remove events
	applied := a.predict(t)
	if cand != nil {
		cand.Applied = applied
		a.rep.Candidates = append(a.rep.Candidates, *cand)
	}
	a.stops.seen(t)
}

// predict runs t through the replay's filter and, if the replay would
// apply it, through the parallelism estimate. It reports whether t is
// applied.
func (a *analyzer) predict(t *txn.Txn) bool {
	p := &a.rep.Replay
	if t.ServerRestarted {
		a.temps.Restarted()
		if a.rewriter != nil {
			a.rewriter.SourceRestarted()
		}
	}
	if a.stopped {
		a.checkStopOrder(t)
		return false
	}
	if reason := a.filter.Stop(t); reason != "" {
		a.stopped = true
		p.StoppedBefore, p.StopReason = t.Ref(), reason
		if why := a.filter.StopHeld(t); why != "" && p.Applied == 0 && a.rep.Problems.Refusal == "" {
			a.rep.Problems.Refusal = why + ": a stop point already behind what the target holds"
		}
		return false
	}
	if err := a.filter.CheckStartOrder(t); err != nil && a.rep.Problems.Refusal == "" {
		a.rep.Problems.Refusal = err.Error()
	}
	if err := a.filter.ExcludeWide(t); err != nil && a.rep.Problems.Refusal == "" {
		a.rep.Problems.Refusal = err.Error()
	}
	if a.filter.Skips(t) {
		p.Skipped++
		return false
	}
	if err := a.opts.HotBase.Risk(t); err != nil {
		a.stopped = true
		p.StoppedBefore, p.StopReason = t.Ref(), "refused: the hot base backup may already hold its non-transactional changes"
		a.rep.Problems.HotBase = err.Error()
		return false
	}
	if a.rewriter != nil { // the filters and --rewrite-db (none: nothing to leave out)
		if err := a.rewriter.Apply(t); err != nil {
			a.refuse(t, err)
			return false
		}
	}
	if t.Kind != txn.KindRows {
		before, _, unsure := a.temps.Apply(t)
		switch {
		case before != nil:
			a.refuseTemp(t, before)
			return false
		case unsure != nil:
			a.refuseTempUnsure(t, unsure)
			return false
		}
	}
	p.Applied++
	p.Bytes += t.Bytes
	if p.First == nil {
		p.First = t.Ref()
	}
	a.lastApplied = *t.Ref()
	a.par.add(t)
	return true
}

// checkStopOrder records, for t read after the predicted stop, that the
// replay refuses --stop-before-gtid when t is its transaction and the stop
// was met before it, at or beyond its sequence number (replay.StopOrderError).
func (a *analyzer) checkStopOrder(t *txn.Txn) {
	stop, before := a.opts.StopBeforeGTID, a.rep.Replay.StoppedBefore
	if stop.IsZero() || t.GTID != stop || before == nil || before.GTID == stop.String() ||
		!strings.Contains(a.rep.Replay.StopReason, "--stop-before-gtid") || a.rep.Problems.Refusal != "" {
		return
	}
	a.rep.Problems.Refusal = fmt.Sprintf("--stop-before-gtid %s: transaction %s at %s, at or beyond its sequence number, comes before %s itself at %s "+
		"(sequence numbers out of order): reading files, the replay refuses it; give --stop-position %s or %s",
		stop, before.GTID, before.Start, stop, t.Start, before.Start, t.Start)
}

// refuseTemp records that the replay stops at t, whose statement q uses
// a temporary table its session created before the start point
// (temptables.Tables.Apply).
func (a *analyzer) refuseTemp(t *txn.Txn, q *txn.Query) {
	sql := a.stopAtStatement(t, q, "refused: a statement uses a temporary table created before the start point")
	a.rep.Problems.TempBeforeStart = fmt.Sprintf("transaction at %s: %s uses a temporary table its session (thread %d of server %d) "+
		"created before the start point (a base taken while the session held it): the replay stops there, exit status 1, "+
		"unless the target has triggers, routines or views calling CONNECTION_ID() (then it applies it, as a statement "+
		"flagged for them)", t.Start.Named(t.GTID.String()), sql, q.ThreadID, t.ServerID)
}

// refuseTempUnsure records that the replay stops at t, whose disconnect
// drop q ended temporary tables of sessions that cannot be told
// (temptables.Tables.Apply).
func (a *analyzer) refuseTempUnsure(t *txn.Txn, q *txn.Query) {
	sql := a.stopAtStatement(t, q, "refused: a drop of temporary tables whose sessions cannot be told")
	a.rep.Problems.TempUnsure = fmt.Sprintf("transaction at %s: %s, the drop of the temporary tables of a connection that ended "+
		"(thread %d, last under server %d), names a table once more than its own session holds, while more sessions of its "+
		"thread id under other server ids hold one: which it ended cannot be told, and the replay stops there, exit status 1",
		t.Start.Named(t.GTID.String()), sql, q.ThreadID, t.ServerID)
}

// stopAtStatement records that the replay stops at t, refused (reason)
// at its statement q, and returns q shortened for the report, its
// values hidden unless asked for.
func (a *analyzer) stopAtStatement(t *txn.Txn, q *txn.Query, reason string) string {
	a.stopped = true
	a.rep.Replay.StoppedBefore, a.rep.Replay.StopReason = t.Ref(), reason
	sql := q.SQL
	if a.opts.HideValues {
		sql = []byte(redact.SQL(string(sql)))
	}
	return shortSQL(sql, 160)
}

// maxRefusals bounds the refusals of --rewrite-db the report lists.
const maxRefusals = 100

// refuse records that the replay's --rewrite-db refuses t (err).
func (a *analyzer) refuse(t *txn.Txn, err error) {
	a.rep.Replay.Refused++
	if len(a.rep.Problems.RewriteRefused) >= maxRefusals {
		return
	}
	r := RewriteRefusal{Txn: *t.Ref(), Message: err.Error()}
	var re *rewrite.Error
	if errors.As(err, &re) {
		r.Message, r.SkipGTIDs = re.Why+": "+re.Event, re.SkipGTIDs()
		if re.Statement != "" {
			r.Message += ": " + re.Statement
		}
	}
	a.rep.Problems.RewriteRefused = append(a.rep.Problems.RewriteRefused, r)
}

// count adds t to the contents and sets a.facts.
func (a *analyzer) count(t *txn.Txn) {
	a.facts.reset()
	c := &a.rep.Contents
	c.Transactions++
	c.ByKind[t.Kind.String()]++
	c.Bytes += t.Bytes
	if c.First == nil {
		c.First, c.Earliest, c.Latest = t.Ref(), t.Time, t.Time
	}
	a.lastRead = *t.Ref()
	if t.Time.Before(c.Earliest) {
		c.Earliest = t.Time
	}
	if t.Time.After(c.Latest) {
		c.Latest = t.Time
	}
	a.countServer(t)
	a.countGTID(t)
	compressed := false
	for i := range t.Events {
		e := &t.Events[i]
		if e.InPayload > 0 {
			c.CompressedEvents++
			compressed = true
		}
		switch e.Kind {
		case txn.EventRows:
			a.countRows(e.Rows)
		case txn.EventQuery:
			cls := classifySQL(e.Query.SQL)
			a.facts.queries = append(a.facts.queries, queryFact{q: e.Query, cls: cls})
			if cls.ddl {
				c.DDL++
			} else {
				c.Statements++
			}
		}
	}
	if compressed {
		c.CompressedTxns++
	}
}

func (a *analyzer) countServer(t *txn.Txn) {
	if t.Format == nil {
		return
	}
	key := t.Format.Flavor.String() + "\x00" + t.Format.ServerVersion
	s := a.srv.byKey[key]
	if s == nil {
		s = &ServerInfo{Flavor: t.Format.Flavor.String(), Version: t.Format.ServerVersion}
		a.srv.byKey[key] = s
		a.srv.order = append(a.srv.order, key)
	}
	if n := len(s.Files); n == 0 || s.Files[n-1] != t.Start.File {
		s.Files = append(s.Files, t.Start.File)
	}
}

// countRows adds one row event to its table's counts.
func (a *analyzer) countRows(r *txn.Rows) {
	if r == nil {
		return
	}
	name := "?"
	if r.Table != nil {
		name = a.names.of(r.Table)
	}
	tc := a.tables[name]
	if tc == nil {
		tc = &TableCount{Table: name}
		a.tables[name] = tc
	}
	if r.Table != nil && len(r.Table.PrimaryKey) > 0 {
		tc.PrimaryKey = true
	}
	c := &a.rep.Contents
	tc.Events.add(r.Op, 1)
	c.RowEvents.add(r.Op, 1)
	if !r.Decoded {
		tc.Undecoded++
		a.rep.Problems.UndecodedEvents++
		return
	}
	n := uint64(r.Count())
	a.facts.addRows(r.Op, name, n)
	tc.Rows.add(r.Op, n)
	c.Rows.add(r.Op, n)
	if !allSet(r.Columns) || r.Op == txn.OpUpdate && (!allSet(r.ColumnsAfter) || hasJSONDiffs(r)) {
		tc.Minimal++
		a.rep.Problems.MinimalEvents++
	}
}

// cut predicts, when reading ended inside a transaction (the last file
// ends inside it, or a crash cut it and the reader cannot leave it out),
// whether the replay's stop point comes before it, as the replay checks
// it.
func (a *analyzer) cut(readErr error) {
	t := binlog.PartialTxn(readErr)
	if a.stopped || t == nil {
		return
	}
	p := &a.rep.Replay
	if reason := a.filter.Stop(t); reason != "" {
		a.stopped = true
		p.StoppedBefore, p.StopReason = t.Ref(), reason
		if why := a.filter.StopHeld(t); why != "" && p.Applied == 0 && a.rep.Problems.Refusal == "" {
			a.rep.Problems.Refusal = why + ": a stop point already behind what the target holds"
		}
	}
}

// finish completes the report once reading has ended with readErr (nil at
// the end of the files), having read to readTo (zero: not known).
func (a *analyzer) finish(readErr error, readTo txn.Position) {
	c := &a.rep.Contents
	c.Tables = make([]TableCount, 0, len(a.tables))
	for _, tc := range a.tables {
		c.Tables = append(c.Tables, *tc)
	}
	sort.Slice(c.Tables, func(i, j int) bool { return c.Tables[i].Table < c.Tables[j].Table })
	for _, key := range a.srv.order {
		a.rep.Servers = append(a.rep.Servers, *a.srv.byKey[key])
	}
	if c.First != nil {
		last := a.lastRead
		c.Last = &last
	}
	if a.rep.Replay.First != nil {
		last := a.lastApplied
		a.rep.Replay.Last = &last
	}
	c.GTIDs = a.gtidRanges()
	c.GTIDSet = a.gtid.set.String()
	a.rep.Parallelism = a.par.result()
	if readErr != nil {
		a.rep.Problems.ReadError = readErrorOf(readErr)
		a.rep.Replay.Fails = !a.stopped
	}
	if !a.stopped && !a.rep.Replay.Fails {
		if p := a.opts.StopPosition; !p.IsZero() && a.filter.Reached(p, readTo) {
			// Read to the stop position (past the last transaction):
			// reached, as the replay says (it exits 0).
			a.rep.Replay.StopReason = fmt.Sprintf("the binlogs end at %s, at or after --stop-position %s", readTo, p)
		} else {
			a.rep.Replay.StopNotReached = a.filter.Stops()
		}
	}
}

func readErrorOf(err error) *ReadError {
	re := &ReadError{Message: err.Error()}
	var be *event.Error
	var te *binlog.TruncatedError
	switch {
	case errors.As(err, &te):
		re.Truncated, re.File, re.Offset = true, te.Partial.File, te.Partial.Offset
		if !te.LastEnd.IsZero() {
			end := te.LastEnd
			re.LastEnd = &end
		}
	case errors.As(err, &be):
		re.File, re.Offset, re.EventType = be.File, be.Offset, be.EventType
	}
	return re
}

// gtidStream is what one GTID stream contributed so far.
type gtidStream struct {
	r    GTIDRange
	seen txn.GTIDSet // exact sequence numbers, to tell gaps and repeats
	dup  bool
}

// streamGTID maps g to a MySQL-syntax GTID whose source names g's stream,
// so that a GTIDSet holds its exact sequence numbers in either flavor.
func (a *analyzer) streamGTID(g txn.GTID) txn.GTID {
	if g.Flavor != txn.FlavorMariaDB {
		return g
	}
	key := [2]uint32{g.Domain, g.Server}
	name, ok := a.gtid.names[key]
	if !ok {
		name = fmt.Sprintf("%d-%d", g.Domain, g.Server)
		a.gtid.names[key] = name
	}
	return txn.GTID{Flavor: txn.FlavorMySQL, Source: name, Seq: g.Seq}
}

// countGTID adds t's GTID to its stream and sets a.facts.gtidRepeat.
func (a *analyzer) countGTID(t *txn.Txn) {
	g := t.GTID
	if g.IsZero() {
		a.rep.Contents.NoGTID++
		return
	}
	a.gtid.set.Add(g)
	sg := a.streamGTID(g)
	s := a.gtid.streams[sg.Source]
	if s == nil {
		s = &gtidStream{r: GTIDRange{Stream: sg.Source, First: g.String(), MinSeq: g.Seq, MaxSeq: g.Seq}}
		a.gtid.streams[sg.Source] = s
	}
	if s.seen.Contains(sg) {
		s.dup, a.facts.gtidRepeat = true, true
	}
	s.seen.Add(sg)
	s.r.Last = g.String()
	s.r.Count++
	s.r.MinSeq, s.r.MaxSeq = min(s.r.MinSeq, g.Seq), max(s.r.MaxSeq, g.Seq)
}

func (a *analyzer) gtidRanges() []GTIDRange {
	var out []GTIDRange
	for _, s := range a.gtid.streams {
		r := s.r
		r.Contiguous = !s.dup && r.MaxSeq-r.MinSeq+1 == r.Count
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}

// hasJSONDiffs reports whether an update's after images hold JSON columns
// logged in part (PARTIAL_UPDATE_ROWS): such images are not FULL either.
func hasJSONDiffs(r *txn.Rows) bool {
	for i := 1; i < len(r.Rows); i += 2 {
		for _, v := range r.Rows[i] {
			if _, ok := v.([]txn.JSONDiff); ok {
				return true
			}
		}
	}
	return false
}
