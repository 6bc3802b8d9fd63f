package undo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The checks of the rows an undo changes back. Each inverse row event is
// preceded, in its target transaction, by a query that locks the rows it
// changes (FOR UPDATE) and checks that they are as the binlogs left them:
//   - the rows it inserts back are absent (by their identity key);
//   - the rows it deletes or updates back hold exactly the image the
//     range's event left them with (every column, compared exactly:
//     sqlgen.ImageMatch).
//
// A row changed outside the binlogs (or by a write the scan of the later
// binlogs did not see: one made while the undo runs) is then reported,
// naming the event and the rows, and nothing of the transaction is
// applied: never overwritten. Passthrough cannot check it itself: a server
// applying an UPDATE or DELETE row event on a table with a primary key
// finds the row by its key and does not compare the other columns. On a
// table without an identity key there is no check: the server finds such
// rows by comparing every column, and an inserted row overwrites nothing.

// maxCheckBytes bounds the text of one check query: an event's rows are
// checked in several queries above it.
const maxCheckBytes = 1 << 20

// guard is the pipeline's Generator for inverse transactions: the
// statements sqlgen makes, each inverse row event after its checks.
type guard struct {
	gen       *sqlgen.Generator
	tables    *tables
	logValues bool
}

// Modes are those of the generator the statements come from.
func (g *guard) Modes() (applySQL, triggersFire bool) { return g.gen.Modes() }

// AppendBody appends the statements that apply t, checks included, to
// dst.
func (g *guard) AppendBody(ctx context.Context, dst []sqlgen.Stmt, t *txn.Txn) ([]sqlgen.Stmt, error) {
	body, err := g.gen.Body(ctx, t)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst, 2*len(body))
	checked := map[*txn.Event]bool{}
	for _, s := range body {
		events := s.Events
		if s.Check != nil {
			events = []*txn.Event{s.Event} // the SQL apply path: one statement per row
		}
		for _, e := range events {
			if e == nil || e.Kind != txn.EventRows || checked[e] {
				continue
			}
			checked[e] = true
			checks, err := g.checks(e)
			if err != nil {
				return nil, &sqlgen.RowsError{Event: e, Err: err}
			}
			for i := range checks {
				out = append(out, sqlgen.Stmt{Expect: &checks[i], Event: e})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// checks returns the checks of the rows the inverse row event e changes.
func (g *guard) checks(e *txn.Event) ([]sqlgen.RowExpect, error) {
	r := e.Rows
	ti := g.tables.byKey[r.Table.Schema+"."+r.Table.Table]
	switch {
	case ti == nil:
		return nil, fmt.Errorf("table %s.%s is not one of the range's", r.Table.Schema, r.Table.Table)
	case ti.identity == nil:
		return nil, nil
	case !r.Decoded:
		return nil, errors.New("the row images were not decoded: the rows cannot be checked")
	}
	from := sqlgen.QuoteIdent(r.Table.Schema) + "." + sqlgen.QuoteIdent(r.Table.Table)
	var (
		out   []sqlgen.RowExpect
		cur   sqlgen.RowExpect
		conds []string
		size  int
	)
	flush := func() {
		if len(conds) == 0 {
			return
		}
		cur.Query = sqlgen.MatchPrefix + "SELECT COUNT(*) FROM " + from + " WHERE " + strings.Join(conds, " OR ") + " FOR UPDATE"
		out = append(out, cur)
		cur, conds, size = sqlgen.RowExpect{Problem: cur.Problem}, nil, 0
	}
	step, present := 1, r.Columns
	cur.Problem = "rows the undo changes back are not on the target as the binlogs left them (changed outside the binlogs, " +
		"or by a write made since the scan of the later binlogs): the undo does not overwrite them"
	if r.Op == txn.OpInsert {
		cur.Problem = "rows the undo inserts back are on the target already (written outside the binlogs, " +
			"or by a write made since the scan of the later binlogs): the undo does not overwrite them"
	}
	if r.Op == txn.OpUpdate {
		step = 2 // before images: what the range's update left
	}
	// One event may change a row twice (INSERT ... ON DUPLICATE KEY
	// UPDATE or LOAD DATA ... REPLACE with a key twice: soak seed 7): its
	// first image here is what the target holds, the others what the
	// inverse's earlier rows set it to (setBack), not checked.
	setBack := map[string]bool{}
	for i := 0; i < len(r.Rows); i += step {
		img := r.Rows[i]
		cond, err := sqlgen.KeyMatch(ti.def, r.Table, ti.identity.Columns, img)
		if err != nil {
			return nil, err
		}
		if r.Op == txn.OpUpdate {
			seen := setBack[cond]
			if after, err := sqlgen.KeyMatch(ti.def, r.Table, ti.identity.Columns, r.Rows[i+1]); err == nil {
				setBack[after] = true
			}
			if seen {
				continue
			}
		}
		probe := sqlgen.RowProbe{Key: describeKey(ti, img, g.logValues)}
		if r.Op != txn.OpInsert {
			match, err := sqlgen.ImageMatch(ti.def, r.Table, present, img)
			if err != nil {
				return nil, err
			}
			cond = "(" + cond + " AND " + match + ")"
			probe.Want = 1
			cur.Want++
		}
		probe.Query = sqlgen.MatchPrefix + "SELECT COUNT(*) FROM " + from + " WHERE " + cond
		cur.Probes = append(cur.Probes, probe)
		conds = append(conds, cond)
		if size += len(cond); size > maxCheckBytes {
			flush()
		}
	}
	flush()
	return out, nil
}
