package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Rewriting databases (Options.Select.RewriteDB, package rewrite). A replay that
// renames databases must never apply part of the binlogs one way and the
// rest another, nor a transaction it cannot rename with certainty:
//   - the checkpoint records the rules, and a resume (or a reconnection)
//     with other rules is refused (checkRewriteDB);
//   - reading binlog files, every transaction up to the stop point is
//     run through the rules before anything is applied, and the replay is
//     refused, naming all those that cannot be renamed, when there are any
//     (checkRewrites);
//   - reading from a source server, the read stage refuses such a
//     transaction when it comes: the target then holds every transaction
//     before it, and nothing of it.

// refusedWhy says why the rewriter stopped at a transaction (err): a
// refusal of --rewrite-db, --databases or --tables, or an error.
func refusedWhy(err error) string {
	var re *rewrite.Error
	if errors.As(err, &re) {
		return "refused by " + re.Flag
	}
	return "could not apply the filters to it"
}

// maxRefusalsListed bounds the transactions a RewriteRefusedError names.
const maxRefusalsListed = 20

// RewriteRefusedError refuses, before anything is applied, a replay whose
// binlogs hold transactions that --rewrite-db (or --databases or
// --tables, see rewrite.New) cannot apply with certainty.
type RewriteRefusedError struct {
	// Refused are the first of them (at most 20), in binlog order; Total
	// counts them all.
	Refused []*rewrite.Error
	Total   int
}

// Error names them, and the flags that stop before the first or skip them.
func (e *RewriteRefusedError) Error() string {
	var b strings.Builder
	flag := "--rewrite-db"
	if len(e.Refused) > 0 {
		flag = e.Refused[0].Flag
	}
	fmt.Fprintf(&b, "nothing applied: %s cannot apply %d transaction(s) of these binlogs before the stop point:", flag, e.Total)
	var gtids []string
	for _, r := range e.Refused {
		fmt.Fprintf(&b, "\n  - %s", r.Detail())
		if g := r.SkipGTIDs(); g != "" {
			gtids = append(gtids, g)
		}
	}
	if more := e.Total - len(e.Refused); more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more (binlog-replay plan with the same flags lists them all)", more)
	}
	if len(e.Refused) > 0 {
		fmt.Fprintf(&b, "\nstop before the first (%s)", e.Refused[0].StopFlag())
		if len(gtids) == len(e.Refused) && e.Total == len(e.Refused) {
			fmt.Fprintf(&b, ", or, once you have checked that they do not change what you restore, skip them: --exclude-gtids %s",
				strings.Join(gtids, ","))
		}
	}
	return b.String()
}

// checkRewriteDB refuses to go on from a checkpoint made with other
// --rewrite-db rules than the run's: the rest of the binlogs would be
// applied to other databases than the first part.
func (r *run) checkRewriteDB(cp *Checkpoint) error {
	if cp == nil {
		return nil
	}
	have, want := cp.RewriteDB, r.opts.Select.RewriteDB.String()
	switch {
	case have == want:
		return nil
	case have == "":
		return fmt.Errorf("the checkpoint on the target was made by a replay without --rewrite-db: resume without it "+
			"(--rewrite-db %s would apply the rest of the binlogs to other databases than the first part)", want)
	case want == "":
		return fmt.Errorf("the checkpoint on the target was made by a replay with --rewrite-db %s: resume with the same "+
			"--rewrite-db and filters (without it the rest of the binlogs would be applied to the original databases)", have)
	}
	return fmt.Errorf("the checkpoint on the target was made by a replay with --rewrite-db %s, not %s: resume with the same rules", have, want)
}

// checkSideTables refuses, with --tables, a renamed database on the
// target that holds tables --tables does not name: a statement kept for a
// table of --tables that also reads another would read the restored copy
// of that other table, not one rolled forward (without it, the statement
// fails, naming the missing table).
func (r *run) checkSideTables(ctx context.Context) error {
	if len(r.opts.Select.RewriteDB) == 0 || len(r.opts.Select.Tables) == 0 {
		return nil
	}
	kept := map[string]bool{}
	for _, t := range r.opts.Select.Tables {
		kept[t] = true
	}
	for _, rule := range r.opts.Select.RewriteDB {
		names, err := r.targetTables(ctx, rule.To)
		if err != nil {
			return err
		}
		var extra []string
		for _, name := range names {
			if !kept[rule.From+"."+name] {
				extra = append(extra, rule.To+"."+name)
			}
		}
		if len(extra) > 0 {
			return fmt.Errorf("nothing applied: --rewrite-db %s with --tables: the target's %s holds %s, which --tables does not name: "+
				"statements applied to the tables of --tables that read them would read the restored copies, not tables rolled forward; "+
				"drop them from %s, or roll the whole database forward with --databases %s",
				rule, rule.To, strings.Join(extra, ", "), rule.To, rule.From)
		}
	}
	return nil
}

// checkRewrites runs, reading binlog files with --rewrite-db,
// --databases or --tables, every transaction from start to the stop point
// through the filters and the rules, and refuses the replay (a
// *RewriteRefusedError) when some cannot be applied with certainty,
// before anything is applied.
func (r *run) checkRewrites(ctx context.Context, start txn.Position) error {
	if r.opts.rewriterNone() || r.opts.Source.DSN != "" {
		return nil
	}
	refused, err := scanRewrites(ctx, r.opts, start, r.start.beside)
	if refused != nil {
		return refused
	}
	if err != nil {
		r.logf("could not read the binlogs ahead to check --rewrite-db, --databases or --tables (%v): checked while replaying instead", err)
	}
	return nil
}

// scanRewrites reads the binlog files from start to the stop point, as the
// read stage does but without decoding row images, and returns the
// transactions the rewriter refuses (nil when none), with the error that
// ended reading early, if any.
func scanRewrites(ctx context.Context, o Options, start txn.Position, beside filterTables) (*RewriteRefusedError, error) {
	rd, err := binlog.NewReader(o.Files, o.scanOptions(start))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	f := filter.New(o.Filter(o.Files))
	rw, err := o.rewriter(o.Files, beside)
	if err != nil {
		return nil, err
	}
	var refused RewriteRefusedError
	var lastSeq uint64 // of the last transaction refused (a streamed one has several pieces)
	skipping := false
	err = scan(ctx, rd, func(t *txn.Txn) (bool, error) {
		if t.Part > 0 && f.StopAt(t) != "" || t.Part == 0 && f.Stop(t) != "" {
			return false, nil
		}
		if t.Part <= 1 {
			skipping = f.Skips(t)
		}
		if skipping {
			return true, nil
		}
		var re *rewrite.Error
		switch err := rw.Apply(t); {
		case errors.As(err, &re):
			if t.Seq != lastSeq {
				lastSeq = t.Seq
				refused.Total++
				if len(refused.Refused) < maxRefusalsListed {
					refused.Refused = append(refused.Refused, re)
				}
			}
		case err != nil:
			return false, err
		}
		return true, nil
	})
	if refused.Total > 0 {
		return &refused, err
	}
	return nil, err
}
