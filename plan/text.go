package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/txn"
)

// WriteText writes r for a person to w, times in loc (time.Local when
// nil). It returns the first write error.
func WriteText(w io.Writer, r *Report, loc *time.Location) error {
	if loc == nil {
		loc = time.Local
	}
	p := &printer{w: w, loc: loc}
	p.files(r)
	p.contents(r)
	p.candidates(r)
	p.replay(r)
	p.parallelism(r)
	p.problems(r)
	return p.err
}

type printer struct {
	w   io.Writer
	loc *time.Location
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) time(t time.Time) string {
	return t.In(p.loc).Format("2006-01-02 15:04:05 MST")
}

func (p *printer) ref(r *txn.Ref) string {
	s := fmt.Sprintf("#%d at %s", r.Seq, r.Start)
	if r.GTID != "" {
		s += " GTID " + r.GTID
	}
	return s + ", committed " + p.time(r.Time)
}

func (p *printer) files(r *Report) {
	var total int64
	for _, f := range r.Files {
		total += f.Bytes
	}
	if r.Source != "" {
		p.f("source: %s, ", r.Source)
	}
	p.f("files: %d, %s", len(r.Files), bytesize.Human(total))
	if n := len(r.Files); n > 0 {
		p.f(" (%s", r.Files[0].Name)
		if n > 1 {
			p.f(" .. %s", r.Files[n-1].Name)
		}
		p.f(")")
	}
	p.f("\n")
	for _, s := range r.Servers {
		p.f("server: %s %s (%s)\n", s.Flavor, s.Version, strings.Join(s.Files, ", "))
	}
}

func (p *printer) contents(r *Report) {
	c := &r.Contents
	kinds := make([]string, 0, len(c.ByKind))
	for k, n := range c.ByKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	p.f("transactions: %d (%s), %s; %d events, %s read\n", c.Transactions, strings.Join(kinds, ", "),
		bytesize.Human(c.Bytes), c.EventsRead, bytesize.Human(int64(c.BytesRead)))
	if c.First != nil {
		p.f("first: %s\nlast:  %s\n", p.ref(c.First), p.ref(c.Last))
		if !c.Earliest.Equal(c.First.Time) || !c.Latest.Equal(c.Last.Time) {
			p.f("commit times range from %s to %s (not in binlog order)\n", p.time(c.Earliest), p.time(c.Latest))
		}
	}
	for _, g := range c.GTIDs {
		gaps := ""
		if !g.Contiguous {
			gaps = ", with gaps or repeats"
		}
		p.f("GTIDs %s: %s .. %s (%d%s)\n", g.Stream, g.First, g.Last, g.Count, gaps)
	}
	if c.GTIDSet != "" {
		p.f("GTID set: %s\n", c.GTIDSet)
	}
	if c.NoGTID > 0 {
		p.f("transactions without GTID: %d\n", c.NoGTID)
	}
	p.f("statements: %d DDL, %d statement-format DML\n", c.DDL, c.Statements)
	if c.CompressedTxns > 0 {
		p.f("compressed: %d transactions (%d events) from MySQL compressed transaction payloads\n", c.CompressedTxns, c.CompressedEvents)
	}
	p.f("\nrow changes (rows; row events):\n")
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "table\tinsert\tupdate\tdelete\tevents\tpk logged\t\n")
	for _, t := range c.Tables {
		pk := "no"
		if t.PrimaryKey {
			pk = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", t.Table, t.Rows.Insert, t.Rows.Update, t.Rows.Delete, t.Events.Total(), pk)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t\t\n", c.Rows.Insert, c.Rows.Update, c.Rows.Delete, c.RowEvents.Total())
	if err := tw.Flush(); err != nil && p.err == nil {
		p.err = err
	}
}

func (p *printer) candidates(r *Report) {
	p.f("\nstop-point candidates (DDL and destructive events): %d\n", len(r.Candidates))
	for _, c := range r.Candidates {
		what := "DDL"
		if c.Destructive {
			what = "DESTRUCTIVE " + c.Kind
		}
		p.f("  %s: %s", what, p.ref(&c.Ref))
		if !c.Applied {
			p.f(" [not applied by this replay]")
		}
		p.f("\n    %s\n    stop just before it: %s\n", c.Detail, strings.Join(c.Flags, "  |  "))
		for _, w := range c.Warnings {
			p.f("    warning: %s\n", w)
		}
		switch {
		case len(c.Undo) > 0:
			p.f("    undo it (on the server it happened on; --dry-run first): %s\n", undoCommand(c.Undo, r.Files))
			if len(c.UndoGTIDs) > 0 {
				p.f("    or by its GTID: %s\n", undoCommand(c.UndoGTIDs, r.Files))
			}
		case c.UndoRefusal != "":
			p.f("    cannot be undone: %s\n", c.UndoRefusal)
		}
	}
}

func (p *printer) replay(r *Report) {
	pr := &r.Replay
	p.f("\nreplay with these options: applies %d transactions (%s)", pr.Applied, bytesize.Human(pr.Bytes))
	if pr.Skipped > 0 {
		p.f(", skips %d by GTID filters", pr.Skipped)
	}
	p.f("\n")
	if pr.First != nil {
		p.f("  first applied: %s\n  last applied:  %s\n", p.ref(pr.First), p.ref(pr.Last))
	}
	if pr.Refused > 0 {
		p.f("  REFUSED: --rewrite-db or --tables cannot apply %d of them with certainty (problems below): reading files, the replay applies nothing\n",
			pr.Refused)
	}
	switch {
	case pr.StoppedBefore != nil:
		p.f("  stops before %s (%s)\n", p.ref(pr.StoppedBefore), pr.StopReason)
	case pr.Fails:
		p.f("  FAILS at the read error below\n")
	case pr.StopNotReached != "":
		p.f("  reads to the end of the binlogs WITHOUT REACHING THE STOP POINT (%s): the replay would apply everything and exit with status 3\n",
			pr.StopNotReached)
	case pr.StopReason != "":
		p.f("  reads to the end of the binlogs (%s)\n", pr.StopReason)
	default:
		p.f("  reads to the end of the binlogs\n")
	}
}

func (p *printer) parallelism(r *Report) {
	x := &r.Parallelism
	p.f("\nparallelism of the %d applied transactions\n  keys: %s\n", x.Transactions, x.Keys)
	for _, t := range x.WholeTables {
		p.f("  keyed by whole table: %s (%s)\n", t.Table, t.Reason)
	}
	if x.Transactions == 0 {
		return
	}
	p.f("  barriers (run alone): %d, %.1f%%", x.Barriers, 100*x.BarrierShare)
	reasons := make([]string, 0, len(x.BarrierReasons))
	for k, n := range x.BarrierReasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		p.f(" (%s)", strings.Join(reasons, ", "))
	}
	p.f("\n  may overlap their predecessor: %d\n", x.Overlapping)
	for _, c := range x.CriticalPath {
		p.f("  critical path by %s cost: %.0f of %.0f (%.1f%%)\n", c.Cost, c.Path, c.Serial, 100*c.Share)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  speed-up bound\tby txn\tby row\tby byte\t\n")
	for _, s := range x.SpeedUp {
		fmt.Fprintf(tw, "  %d workers\t%.2f\t%.2f\t%.2f\t\n", s.Workers, s.ByTxn, s.ByRow, s.ByByte)
	}
	if err := tw.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	approx := ""
	if x.HotKeysApproximate {
		approx = " (approximate: lower bounds)"
	}
	p.f("  hottest keys%s:\n", approx)
	for _, k := range x.HotKeys {
		p.f("    %8d txns  %s\n", k.Txns, k.Key)
	}
}

func (p *printer) problems(r *Report) {
	pr := &r.Problems
	p.f("\nproblems:")
	none := true
	if e := pr.ReadError; e != nil {
		none = false
		p.f("\n  read error: %s", e.Message)
		if e.Truncated && e.LastEnd != nil {
			p.f("\n    (truncated: the last complete transaction ends at %s)", e.LastEnd)
		}
	}
	if pr.MinimalEvents > 0 {
		none = false
		p.f("\n  %d row events have incomplete images (binlog_row_image MINIMAL or NOBLOB)", pr.MinimalEvents)
	}
	if pr.UndecodedEvents > 0 {
		none = false
		p.f("\n  %d row events were not decoded (PARTIAL_UPDATE_ROWS): passthrough only, rows not counted", pr.UndecodedEvents)
	}
	if len(pr.SkippedEvents) > 0 {
		none = false
		p.f("\n  skipped events: %v", pr.SkippedEvents)
	}
	for _, c := range pr.CutByCrash {
		none = false
		p.f("\n  left out %s", c)
	}
	if len(pr.RewriteRefused) > 0 {
		none = false
		p.f("\n  --rewrite-db or --tables refuses %d transactions:", r.Replay.Refused)
		var skip []string
		for _, x := range pr.RewriteRefused {
			p.f("\n    %s: %s", p.ref(&x.Txn), x.Message)
			if x.SkipGTIDs != "" {
				skip = append(skip, x.SkipGTIDs)
			}
		}
		if n := r.Replay.Refused - uint64(len(pr.RewriteRefused)); n > 0 {
			p.f("\n    ... and %d more", n)
		} else if len(skip) == len(pr.RewriteRefused) {
			p.f("\n    to skip them all, once checked: --exclude-gtids %s", strings.Join(skip, ","))
		}
	}
	if pr.Refusal != "" {
		none = false
		p.f("\n  the replay refuses these options here: %s", pr.Refusal)
	}
	if pr.TempBeforeStart != "" {
		none = false
		p.f("\n  %s", pr.TempBeforeStart)
	}
	if pr.TempUnsure != "" {
		none = false
		p.f("\n  %s", pr.TempUnsure)
	}
	if pr.HotBase != "" {
		none = false
		p.f("\n  the replay stops there: %s", pr.HotBase)
	}
	if none {
		p.f(" none")
	}
	p.f("\n")
}
