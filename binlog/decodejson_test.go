package binlog

import (
	"path/filepath"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
)

// TestDecodeJSON checks Options.DecodeJSON: the row events of a MySQL
// fixture's statements on a table with a MySQL JSON column are decoded
// even when DecodeRows is off or the transaction exceeds DecodeMaxBytes;
// the others follow DecodeRows and DecodeMaxBytes.
func TestDecodeJSON(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057")
	for _, tc := range []struct {
		name      string
		opts      Options
		wantOther bool // the events on the table without JSON are decoded
	}{
		{"json only", Options{DecodeJSON: true}, false},
		{"json and small transactions", Options{DecodeJSON: true, DecodeRows: true, DecodeMaxBytes: 1, DecodeWorkers: 2}, false},
		{"everything", Options{DecodeJSON: true, DecodeRows: true, DecodeWorkers: 2}, true},
		{"without DecodeJSON", Options{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var json, other int
			for _, tx := range mustReadAll(t, []string{path}, tc.opts) {
				for _, e := range tx.Events {
					if e.Rows == nil {
						continue
					}
					want := tc.wantOther
					if e.Rows.Table.HasJSON() {
						json++
						want = tc.opts.DecodeJSON
					} else {
						other++
					}
					if e.Rows.Decoded != want || want && len(e.Rows.Rows) == 0 {
						t.Errorf("%s on %s.%s: decoded %v with %d images, want decoded %v", e.TypeName,
							e.Rows.Table.Schema, e.Rows.Table.Table, e.Rows.Decoded, len(e.Rows.Rows), want)
					}
				}
			}
			if json != 2 || other != 1 {
				t.Fatalf("%d row events on JSON tables, %d on others; want 2 and 1", json, other)
			}
		})
	}
}
