package rowedit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// unreadable are the fixtures the reader refuses (binlog's
// expectedFailures): they have no row events to edit.
var unreadable = map[string]bool{
	"MyFlash/binlog_output_base.flashback":                                    true,
	"mysql-binlog-connector-java/src/test/resources/mysql-bin.aurora-padding": true,
	"tiflow/mysql-bin.000001":                                                 true,
}

// readAll reads every transaction of files; it returns them with the error
// that ended reading (nil for a clean io.EOF).
func readAll(files []string, opts binlog.Options) ([]*txn.Txn, error) {
	r, err := binlog.NewReader(files, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []*txn.Txn
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tx)
	}
}

// TestRowEditorFixtures inverts every row event of both corpora (where the
// editor takes it) and checks, without a server, what an undo relies on:
//   - the inverse decodes (go-mysql's decoder, reading the bytes the
//     editor wrote) to the original's rows, reversed, with each update's
//     images swapped, and the inverse operation;
//   - inverting the inverse gives the original event back, byte for byte
//     but for STMT_END_F (set on every inverse) and the checksum;
//   - keeping some rows decodes to those rows;
//   - an event whose images lack columns is refused (NotFullError), and
//     types the editor cannot edit are refused, never misread.
//
// go-mysql's decoder finds where each row image ends by decoding it; the
// editor by sizing its values (rowimage.go): agreeing on every fixture
// checks the sizes of every column type the corpora hold.
func TestRowEditorFixtures(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) {
		var inverted, refused int
		err := filepath.WalkDir(c.Dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || fixtures.Meta(d.Name()) {
				return err
			}
			rel, _ := filepath.Rel(c.Dir, p)
			if unreadable[filepath.ToSlash(rel)] {
				return nil
			}
			txns, err := readAll([]string{p}, binlog.Options{DecodeRows: true})
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			i, r := checkRowEdits(t, rel, txns)
			inverted += i
			refused += r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d row events inverted and checked, %d refused", inverted, refused)
		if inverted == 0 {
			t.Error("no row event was inverted")
		}
	})
}

// checkRowEdits checks the editor on the row events of txns (from the
// fixture rel) and returns how many it inverted and refused.
func checkRowEdits(t *testing.T, rel string, txns []*txn.Txn) (inverted, refused int) {
	t.Helper()
	editors := map[*txn.Format]*Editor{}
	for _, tx := range txns {
		ed := editors[tx.Format]
		if ed == nil {
			var err error
			if ed, err = NewEditor(tx.Format); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			editors[tx.Format] = ed
		}
		maps := map[uint64]*txn.Event{}
		for i := range tx.Events {
			e := &tx.Events[i]
			if e.Kind == txn.EventTableMap {
				maps[e.TableMap.ID] = e
				continue
			}
			if e.Kind != txn.EventRows {
				continue
			}
			inv, err := ed.Invert(e)
			if check := CheckInvertible(e); (check == nil) != (err == nil) {
				t.Errorf("%s: %s at %s: CheckInvertible says %v, Invert %v", rel, e.TypeName, e.Pos, check, err)
			}
			if _, ok := inverseType[e.Raw[4]]; !ok {
				if err == nil {
					t.Errorf("%s: %s at %s inverted, want a refusal", rel, e.TypeName, e.Pos)
				}
				refused++
				continue
			}
			var nf *NotFullError
			if errors.As(err, &nf) {
				if !hasMissingColumn(e.Rows) {
					t.Errorf("%s: %s at %s refused as not full, but its images hold every column", rel, e.TypeName, e.Pos)
				}
				refused++
				continue
			}
			if err != nil {
				t.Errorf("%s: invert %s at %s: %v", rel, e.TypeName, e.Pos, err)
				continue
			}
			checkInverse(t, rel, tx.Format, ed, maps[e.Rows.Table.ID], e, inv)
			inverted++
		}
	}
	return inverted, refused
}

// hasMissingColumn reports whether an image of r lacks a column.
func hasMissingColumn(r *txn.Rows) bool {
	for _, cols := range [][]bool{r.Columns, r.ColumnsAfter} {
		for _, c := range cols {
			if !c {
				return true
			}
		}
	}
	return false
}

// checkInverse checks inv, the inverse of the row event e whose table map
// is tm.
func checkInverse(t *testing.T, rel string, f *txn.Format, ed *Editor, tm, e, inv *txn.Event) {
	t.Helper()
	at := rel + ": " + e.TypeName + " at " + e.Pos.String()
	if want := inverseType[e.Raw[4]]; inv.Type != want || inv.Raw[4] != want {
		t.Errorf("%s: inverse type %d, want %d", at, inv.Raw[4], want)
	}
	if len(inv.Raw) != len(e.Raw) {
		t.Errorf("%s: inverse of %d bytes, the event has %d", at, len(inv.Raw), len(e.Raw))
	}
	got := decodeAlone(t, at, f, tm, inv)
	want := invertRows(e.Rows, inv.Rows.Flags)
	if got.Op != want.Op || got.Flags != want.Flags || !reflect.DeepEqual(got.Rows, want.Rows) ||
		!reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.ColumnsAfter, want.ColumnsAfter) {
		t.Errorf("%s: the inverse decodes to %v %d rows flags %d, want %v %d rows flags %d",
			at, got.Op, len(got.Rows), got.Flags, want.Op, len(want.Rows), want.Flags)
	}
	if !reflect.DeepEqual(inv.Rows, want) {
		t.Errorf("%s: the inverse's Rows do not describe it", at)
	}
	// The inverse of the inverse is the event, with STMT_END_F.
	back, err := ed.Invert(inv)
	if err != nil {
		t.Fatalf("%s: invert the inverse: %v", at, err)
	}
	if exp := withStmtEnd(e.Raw, f.Checksum); !bytes.Equal(back.Raw, exp) {
		t.Errorf("%s: the inverse of the inverse differs from the event", at)
	}
	// Keep every other row of the inverse.
	kept, err := ed.Keep(inv, func(row int) bool { return row%2 == 0 })
	if err != nil {
		t.Fatalf("%s: keep rows: %v", at, err)
	}
	per := 1
	if want.Op == txn.OpUpdate {
		per = 2
	}
	var keptRows [][]any
	for i := 0; i < len(want.Rows); i += 2 * per {
		keptRows = append(keptRows, want.Rows[i:i+per]...)
	}
	if k := decodeAlone(t, at+" (rows kept)", f, tm, kept); !reflect.DeepEqual(k.Rows, keptRows) ||
		!reflect.DeepEqual(kept.Rows.Rows, keptRows) {
		t.Errorf("%s: keeping every other row decodes to %d rows, want %d", at, len(k.Rows), len(keptRows))
	}
	if none, err := ed.Keep(inv, func(int) bool { return false }); none != nil || err != nil {
		t.Errorf("%s: keeping no row gives %v, %v; want nil, nil", at, none, err)
	}
	checkRebuild(t, at, f, ed, tm, e)
}

// checkRebuild checks Images, Rebuild and SetStmtEnd on the row event e
// whose table map is tm: rebuilt with its own images and flags, it is the
// same bytes; with STMT_END_F set, the bytes Rebuild makes ending it;
// rebuilt with its rows in reverse order and STMT_END_F flipped, it
// decodes to those rows and flags.
func checkRebuild(t *testing.T, at string, f *txn.Format, ed *Editor, tm, e *txn.Event) {
	t.Helper()
	images, err := ed.Images(e)
	if err != nil {
		t.Fatalf("%s: images: %v", at, err)
	}
	end := e.Rows.Flags&txn.RowsFlagStmtEnd != 0
	same, err := ed.Rebuild(e, images, e.Rows.Rows, end)
	if err != nil {
		t.Fatalf("%s: rebuild: %v", at, err)
	}
	if !bytes.Equal(same.Raw, e.Raw) {
		t.Errorf("%s: rebuilt with its own images, the event differs", at)
	}
	// SetStmtEnd, which edits the flags alone, is Rebuild with STMT_END_F.
	set, err := ed.SetStmtEnd(e)
	if err != nil {
		t.Fatalf("%s: set STMT_END_F: %v", at, err)
	}
	ended, err := ed.Rebuild(e, images, e.Rows.Rows, true)
	if err != nil {
		t.Fatalf("%s: rebuild ending the statement: %v", at, err)
	}
	if !bytes.Equal(set.Raw, ended.Raw) || set.Rows.Flags != ended.Rows.Flags {
		t.Errorf("%s: with STMT_END_F set, the event differs from the one rebuilt so", at)
	}
	per := 1
	if e.Rows.Op == txn.OpUpdate {
		per = 2
	}
	var revImages [][]byte
	var revRows [][]any
	for i := len(images) - per; i >= 0; i -= per {
		revImages = append(revImages, images[i:i+per]...)
		revRows = append(revRows, e.Rows.Rows[i:i+per]...)
	}
	rev, err := ed.Rebuild(e, revImages, revRows, !end)
	if err != nil {
		t.Fatalf("%s: rebuild reversed: %v", at, err)
	}
	got := decodeAlone(t, at+" (rebuilt reversed)", f, tm, rev)
	if !reflect.DeepEqual(got.Rows, revRows) || !reflect.DeepEqual(rev.Rows.Rows, revRows) ||
		got.Flags != rev.Rows.Flags || (got.Flags&txn.RowsFlagStmtEnd != 0) == end {
		t.Errorf("%s: rebuilt with its rows reversed, it decodes to %d rows flags %d, want %d rows, STMT_END_F %v",
			at, len(got.Rows), got.Flags, len(revRows), !end)
	}
}

// decodeAlone decodes the row event e after its table map tm with a new
// Decoder and returns its rows.
func decodeAlone(t *testing.T, at string, f *txn.Format, tm, e *txn.Event) *txn.Rows {
	t.Helper()
	d, err := binlog.NewDecoder(f)
	if err != nil {
		t.Fatalf("%s: %v", at, err)
	}
	if _, err := d.Decode(tm.Raw, tm.Pos); err != nil {
		t.Fatalf("%s: decode its table map: %v", at, err)
	}
	ev, err := d.Decode(e.Raw, e.Pos)
	if err != nil {
		t.Fatalf("%s: decode: %v", at, err)
	}
	return ev.Rows
}

// withStmtEnd returns raw, a row event, with STMT_END_F set (and its
// checksum computed again).
func withStmtEnd(raw []byte, checksum bool) []byte {
	out := bytes.Clone(raw)
	idLen := 6
	flags := event.HeaderSize + idLen
	binary.LittleEndian.PutUint16(out[flags:], binary.LittleEndian.Uint16(out[flags:])|txn.RowsFlagStmtEnd)
	if checksum {
		n := len(out) - 4
		binary.LittleEndian.PutUint32(out[n:], crc32.ChecksumIEEE(out[:n]))
	}
	return out
}

// TestRowEditorRefusesMinimal checks the refusal on the repository's
// fixture written with binlog_row_image=MINIMAL: it names the table and
// the image, and the event.
func TestRowEditorRefusesMinimal(t *testing.T) {
	dir := fixtures.Repo(t)
	txns, err := readAll([]string{filepath.Join(dir, "mariadb-10.11/minimal/mysql-bin.000001")}, binlog.Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	ed, err := NewEditor(txns[0].Format)
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, tx := range txns {
		for i := range tx.Events {
			e := &tx.Events[i]
			if e.Kind != txn.EventRows || !hasMissingColumn(e.Rows) {
				continue
			}
			_, err := ed.Invert(e)
			var nf *NotFullError
			var be *event.Error
			if !errors.As(err, &nf) || !errors.As(err, &be) || be.Offset != e.Pos.Offset || be.File != e.Pos.File {
				t.Fatalf("%s at %s: got %v, want a NotFullError naming the event", e.TypeName, e.Pos, err)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("the MINIMAL fixture has no event with a missing column")
	}
}
