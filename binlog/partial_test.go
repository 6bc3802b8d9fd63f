package binlog

import (
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// partialFixture is the MySQL 8.0 fixture holding a PARTIAL_UPDATE_ROWS
// event (one JSON diff per row, MINIMAL images).
const partialFixture = "rust_mysql_common/test-data/binlogs/json.binlog.000001"

// TestPartialUpdateRowsDecoded checks the fixture's PARTIAL_UPDATE_ROWS
// event decodes into its key (before image), its JSON diffs and its
// generated columns (after image), with DecodeRows and with DecodeJSON
// alone.
func TestPartialUpdateRowsDecoded(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), partialFixture)
	for _, o := range []Options{{DecodeRows: true, DecodeWorkers: 2}, {DecodeJSON: true}} {
		var rows *txn.Rows
		for _, tx := range mustReadAll(t, []string{path}, o) {
			for _, e := range tx.Events {
				if e.Type == event.TypePartialUpdateRows {
					rows = e.Rows
				}
			}
		}
		if rows == nil || !rows.Decoded || len(rows.Rows) != 12 {
			t.Fatalf("%+v: partial update rows %+v; want 6 decoded before/after pairs", o, rows)
		}
		ages := []int64{26, 34, 42, 26, 34, 42}
		for i := 0; i < 6; i++ {
			before, after := rows.Rows[2*i], rows.Rows[2*i+1]
			want := []any{nil, []txn.JSONDiff{{Op: txn.JSONReplace, Path: "$.age", Value: strconv.FormatInt(ages[i], 10)}}, after[2], ages[i]}
			if before[0] != int64(i+1) || !reflect.DeepEqual(after, want) {
				t.Errorf("%+v: row %d: before %v after %#v; want id %d and %#v", o, i+1, before, after, i+1, want)
			}
		}
	}
}
