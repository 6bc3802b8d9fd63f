package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
)

// sums is the aggregate of the row hashes of a set of rows. COUNT and SUM
// make duplicates count; BIT_XOR adds bits SUM mixes poorly.
type sums struct {
	Count int64
	Xor   uint64
	Sum   string // DECIMAL text: SUM of 32-bit values does not overflow
}

// tablePlan is the SQL skeleton for one table.
type tablePlan struct {
	table   string // quoted db.table
	hash    string // per-row hash expression
	key     []keyColumn
	keyName string
	// targetTable is the table on the target: table, or its name in
	// another database there (Options.TargetNames).
	targetTable string
	// hideValues shows key values as ? (Options.HideValues).
	hideValues bool
}

func newPlan(t *tableSchema) *tablePlan {
	p := &tablePlan{table: quoteTable(t.Schema, t.Name), hash: rowHashExpr(hashedColumns(t.Columns))}
	p.targetTable = p.table
	p.key, p.keyName = chunkKey(t)
	return p
}

// after names the chunk starting after lower, for error messages.
func (p *tablePlan) after(lower []string) string {
	if lower == nil {
		return "at the start"
	}
	return "after " + p.display(lower)
}

// display renders a key value as displayKey does, or with every value
// replaced by ? when the plan hides values.
func (p *tablePlan) display(vals []string) string {
	if p.hideValues {
		return displayKey(p.key, nil)
	}
	return displayKey(p.key, vals)
}

// from is "FROM t FORCE INDEX(k)".
func (p *tablePlan) from() string {
	return "FROM " + p.table + " FORCE INDEX(" + quoteIdent(p.keyName) + ")"
}

// onTarget returns query, made for the reference's table, for the
// target's: the same query when the table has the same name there.
func (p *tablePlan) onTarget(query string) string {
	if p.targetTable == p.table {
		return query
	}
	return strings.ReplaceAll(query, "FROM "+p.table, "FROM "+p.targetTable)
}

// sumsQuery returns the query aggregating the row hashes of the rows
// matching pred.
func (p *tablePlan) sumsQuery(from, pred string) string {
	return "SELECT COUNT(*), COALESCE(BIT_XOR(" + p.hash + "), 0), COALESCE(SUM(" + p.hash + "), 0) " +
		from + " WHERE " + pred
}

func querySums(ctx context.Context, q querier, query string, args []any) (sums, error) {
	var s sums
	err := q.QueryRowContext(ctx, query, args...).Scan(&s.Count, &s.Xor, &s.Sum)
	return s, err
}

// bothSums runs the same aggregate on both servers at once (query names
// the reference's table; p's table on the target).
func (c *comparer) bothSums(ctx context.Context, p *tablePlan, query string, args []any) (t, r sums, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		t, err = querySums(gctx, c.target, p.onTarget(query), args)
		if err != nil {
			err = fmt.Errorf("target: %w", err)
		}
		return err
	})
	g.Go(func() (err error) {
		r, err = querySums(gctx, c.ref, query, args)
		if err != nil {
			err = fmt.Errorf("reference: %w", err)
		}
		return err
	})
	err = g.Wait()
	return t, r, err
}

// compareData compares the rows of a table whose schema is the same on
// both sides, filling tr. It returns an error if a query fails.
func (c *comparer) compareData(ctx context.Context, ref *tableSchema, targetDB string, tr *TableReport) error {
	p := newPlan(ref)
	p.targetTable = quoteTable(targetDB, ref.Name)
	p.hideValues = c.opts.HideValues
	if p.key == nil {
		return c.compareWhole(ctx, p, tr)
	}
	tr.Key = p.keyName
	samples := c.opts.sampleRows()
	var lower []string
	// seen guarantees termination: a table has finitely many keys, so a
	// walk that fails to advance (a key type whose bounds do not round-trip)
	// repeats a bound, and that is an error rather than an endless loop.
	seen := make(map[string]bool)
	for {
		upper, err := c.nextBoundary(ctx, p, lower)
		if err != nil {
			return fmt.Errorf("find chunk bound of %s %s: %w", p.table, p.after(lower), err)
		}
		if upper != nil {
			k := joinKey(upper)
			if seen[k] {
				return fmt.Errorf("walk %s by key %s: bound %s repeats; the key cannot be chunked",
					p.table, quoteIdent(p.keyName), p.display(upper))
			}
			seen[k] = true
		}
		pred, args := rangePred(p.key, lower, upper)
		ts, rs, err := c.bothSums(ctx, p, p.sumsQuery(p.from(), pred), args)
		if err != nil {
			return fmt.Errorf("checksum chunk of %s %s: %w", p.table, p.after(lower), err)
		}
		tr.RowsTarget += ts.Count
		tr.RowsReference += rs.Count
		if ts != rs {
			tr.Status = DataDiffers
			cd := ChunkDiff{RowsTarget: ts.Count, RowsReference: rs.Count}
			if lower != nil {
				cd.Lower = p.display(lower)
			}
			if upper != nil {
				cd.Upper = p.display(upper)
			}
			if len(tr.SampleRows) < samples {
				if err := c.diffChunk(ctx, p, pred, args, &cd, tr, samples); err != nil {
					return fmt.Errorf("diff chunk of %s %s: %w", p.table, p.after(lower), err)
				}
			}
			tr.Chunks = append(tr.Chunks, cd)
		}
		if c.opts.Progress != nil {
			c.opts.Progress(ref.Schema, ref.Name, tr.RowsReference)
		}
		if upper == nil {
			return nil
		}
		lower = upper
	}
}

// nextBoundary returns the key of the ChunkSize-th reference row after
// lower (nil: from the start), or nil when fewer rows remain.
func (c *comparer) nextBoundary(ctx context.Context, p *tablePlan, lower []string) ([]string, error) {
	pred, args := rangePred(p.key, lower, nil)
	query := fmt.Sprintf("SELECT %s %s WHERE %s ORDER BY %s LIMIT 1 OFFSET %d",
		keyList(p.key, true), p.from(), pred, keyList(p.key, false), c.opts.chunkSize()-1)
	vals := make([]sql.NullString, len(p.key))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	err := c.ref.QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		if !v.Valid {
			return nil, fmt.Errorf("key column %s is NULL", quoteIdent(p.key[i].Name))
		}
		out[i] = v.String
	}
	return out, nil
}

// compareWhole compares a table without a usable key by its whole-table
// count and order-independent checksum.
func (c *comparer) compareWhole(ctx context.Context, p *tablePlan, tr *TableReport) error {
	ts, rs, err := c.bothSums(ctx, p, p.sumsQuery("FROM "+p.table, "1"), nil)
	if err != nil {
		return fmt.Errorf("checksum table %s: %w", p.table, err)
	}
	tr.RowsTarget, tr.RowsReference = ts.Count, rs.Count
	tr.Detail = "no primary or NOT NULL unique key: compared whole-table count and checksum, rows not named"
	if ts != rs {
		tr.Status = DataDiffers
	}
	if c.opts.Progress != nil {
		c.opts.Progress(tr.Schema, tr.Table, rs.Count)
	}
	return nil
}

// refRow is a reference row of a chunk being diffed.
type refRow struct {
	key     []string
	hash    uint64
	matched bool
}

// diffChunk diffs one chunk row by row: it holds the reference rows' keys
// and hashes (at most one chunk) and streams the target rows past them,
// counting missing, extra and changed rows into cd and adding samples to
// tr up to limit.
func (c *comparer) diffChunk(ctx context.Context, p *tablePlan, pred string, args []any, cd *ChunkDiff, tr *TableReport, limit int) error {
	query := fmt.Sprintf("SELECT %s, %s %s WHERE %s ORDER BY %s",
		keyList(p.key, true), p.hash, p.from(), pred, keyList(p.key, false))
	var refs []*refRow
	byKey := make(map[string]*refRow)
	err := scanKeyHash(ctx, c.ref, query, args, len(p.key), func(key []string, hash uint64) error {
		r := &refRow{key: key, hash: hash}
		refs = append(refs, r)
		byKey[joinKey(key)] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	sample := func(kind RowDiffKind, key []string) {
		if len(tr.SampleRows) < limit {
			tr.SampleRows = append(tr.SampleRows, RowDiff{Kind: kind, Key: p.display(key)})
		}
	}
	err = scanKeyHash(ctx, c.target, p.onTarget(query), args, len(p.key), func(key []string, hash uint64) error {
		r := byKey[joinKey(key)]
		switch {
		case r == nil:
			cd.Extra++
			sample(RowExtra, key)
		case r.hash != hash:
			r.matched = true
			cd.Changed++
			sample(RowChanged, key)
		default:
			r.matched = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, r := range refs {
		if !r.matched {
			cd.Missing++
			sample(RowMissing, r.key)
		}
	}
	cd.Diffed = true
	return nil
}

// scanKeyHash runs query and calls fn with each row's key values and hash.
func scanKeyHash(ctx context.Context, q querier, query string, args []any, nkey int, fn func([]string, uint64) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]sql.NullString, nkey)
	var hash uint64
	dest := make([]any, nkey+1)
	for i := range vals {
		dest[i] = &vals[i]
	}
	dest[nkey] = &hash
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		key := make([]string, nkey)
		for i, v := range vals {
			key[i] = v.String
		}
		if err := fn(key, hash); err != nil {
			return err
		}
	}
	return rows.Err()
}

// joinKey makes a map key of key values; NUL never occurs in them (hex,
// numbers and temporals).
func joinKey(key []string) string {
	n := 0
	for _, k := range key {
		n += len(k) + 1
	}
	b := make([]byte, 0, n)
	for _, k := range key {
		b = append(b, k...)
		b = append(b, 0)
	}
	return string(b)
}
