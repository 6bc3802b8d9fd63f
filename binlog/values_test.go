package binlog

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// printedValue is one column value as mariadb-binlog -vv prints it.
type printedValue struct {
	col  int
	text string // the value, as printed
	typ  string // the type comment, e.g. "VARSTRING(200)"
}

// mariadbBinlogImages runs mariadb-binlog -vv on path and returns its row
// images in order (for an update, the before image then the after image).
func mariadbBinlogImages(t *testing.T, path string) [][]printedValue {
	t.Helper()
	out, err := exec.Command("mariadb-binlog", "-vv", "--base64-output=decode-rows", path).Output()
	if err != nil {
		t.Fatalf("mariadb-binlog %s: %v", path, err)
	}
	var images [][]printedValue
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "### SET" || line == "### WHERE":
			images = append(images, nil)
		case strings.HasPrefix(line, "###   @"):
			i := strings.LastIndex(line, " /* ")
			eq := strings.IndexByte(line, '=')
			col, err := strconv.Atoi(line[len("###   @"):eq])
			if i < 0 || eq < 0 || err != nil || len(images) == 0 {
				t.Fatalf("cannot parse mariadb-binlog line %q", line)
			}
			typ, _, _ := strings.Cut(line[i+4:], " ")
			images[len(images)-1] = append(images[len(images)-1],
				printedValue{col: col - 1, text: strings.TrimRight(line[eq+1:i], " "), typ: typ})
		}
	}
	return images
}

// ourImages flattens the decoded row images of txns.
type ourValue struct {
	col   int
	value any
	table *txn.TableMap
}

func ourImages(txns []*txn.Txn) [][]ourValue {
	var images [][]ourValue
	for _, tx := range txns {
		for _, e := range tx.Events {
			if e.Rows == nil {
				continue
			}
			for i, row := range e.Rows.Rows {
				cols := e.Rows.Columns
				if e.Rows.Op == txn.OpUpdate && i%2 == 1 {
					cols = e.Rows.ColumnsAfter
				}
				var img []ourValue
				for c, v := range row {
					if cols[c] {
						img = append(img, ourValue{c, v, e.Rows.Table})
					}
				}
				images = append(images, img)
			}
		}
	}
	return images
}

// TestValuesAgainstMariadbBinlog compares every decoded value of the
// fixtures mariadb-binlog can print with what it prints.
func TestValuesAgainstMariadbBinlog(t *testing.T) {
	if _, err := exec.LookPath("mariadb-binlog"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mariadb-binlog is required when CI=true")
		}
		t.Skip("mariadb-binlog not installed")
	}
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) {
		// The external corpus has over 1000 values to compare, the
		// repository's over 300.
		min := 300
		if c.External {
			min = 1000
		}
		valuesAgainstMariadbBinlog(t, c.Dir, min)
	})
}

// valuesAgainstMariadbBinlog compares the values of the corpus in dir,
// at least min of them.
func valuesAgainstMariadbBinlog(t *testing.T, dir string, min int) {
	compared := 0
	for rel, m := range readManifest(t, dir) {
		if !strings.Contains(m.notes, "mariadb-binlog -vv: ok") || expectedFailures[rel].check != nil {
			continue
		}
		path := filepath.Join(dir, rel)
		txns := mustReadAll(t, []string{path}, Options{DecodeRows: true})
		theirs, ours := mariadbBinlogImages(t, path), ourImages(txns)
		if len(theirs) != len(ours) {
			t.Errorf("%s: mariadb-binlog printed %d row images, we decoded %d", rel, len(theirs), len(ours))
			continue
		}
		for i := range theirs {
			if len(theirs[i]) != len(ours[i]) {
				t.Errorf("%s image %d: %d columns printed, %d decoded", rel, i, len(theirs[i]), len(ours[i]))
				continue
			}
			for j, p := range theirs[i] {
				o := ours[i][j]
				ok, checked := sameValue(p, o)
				if !ok || p.col != o.col {
					t.Errorf("%s image %d column %d (%s): mariadb-binlog %q, we have %#v", rel, i, p.col+1, p.typ, p.text, o.value)
				}
				if checked {
					compared++
				}
			}
		}
	}
	t.Logf("compared %d values", compared)
	if compared < min {
		t.Errorf("only %d values compared", compared)
	}
}

// sameValue reports whether our value matches the printed one; checked is
// false for types this comparison does not cover.
func sameValue(p printedValue, o ourValue) (ok, checked bool) {
	if p.text == "NULL" {
		return o.value == nil, true
	}
	typ := p.typ
	if i := strings.IndexByte(typ, '('); i >= 0 {
		typ = typ[:i]
	}
	switch typ {
	case "TINYINT", "SHORTINT", "MEDIUMINT", "INT", "LONGINT", "YEAR", "ENUM":
		signed, _, _ := strings.Cut(p.text, " ")
		return signedText(o) == signed, true
	case "DECIMAL", "DATETIME", "TIME":
		return fmt.Sprintf("'%v'", o.value) == p.text || fmt.Sprint(o.value) == p.text, true
	case "DATE":
		return fmt.Sprintf("'%v'", strings.ReplaceAll(fmt.Sprint(o.value), "-", ":")) == p.text, true
	case "TIMESTAMP":
		return timestampText(o.value) == p.text, true
	case "BIT", "SET":
		return bitsText(o.value, p.typ) == p.text, true
	case "FLOAT", "DOUBLE":
		return closeFloat(o.value, p.text), true
	case "VARSTRING", "STRING", "BLOB/TEXT", "TINYBLOB/TINYTEXT", "MEDIUMBLOB/MEDIUMTEXT", "LONGBLOB/LONGTEXT":
		b, isBytes := o.value.([]byte)
		return isBytes && quoted(b) == p.text, true
	}
	return true, false
}

// signedText prints an integer as mariadb-binlog's first (signed) form.
func signedText(o ourValue) string {
	switch v := o.value.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		bits := map[byte]uint{1: 8, 2: 16, 9: 24, 3: 32, 8: 64}[o.table.ColumnTypes[o.col]]
		if bits == 0 || bits == 64 {
			return strconv.FormatInt(int64(v), 10)
		}
		shift := 64 - bits
		return strconv.FormatInt(int64(v<<shift)>>shift, 10)
	}
	return fmt.Sprintf("%T", o.value)
}

// timestampText prints our UTC TIMESTAMP text as seconds since the epoch.
func timestampText(v any) string {
	s, _ := v.(string)
	if strings.HasPrefix(s, "0000-00-00") {
		return "0"
	}
	day, frac, _ := strings.Cut(s, ".")
	tm, err := time.ParseInLocation("2006-01-02 15:04:05", day, time.UTC)
	if err != nil {
		return "bad " + s
	}
	if frac != "" {
		return fmt.Sprintf("%d.%s", tm.Unix(), frac)
	}
	return strconv.FormatInt(tm.Unix(), 10)
}

// bitsText prints a BIT(n) or SET(n bytes) value as b'0101'.
func bitsText(v any, typ string) string {
	u, ok := v.(uint64)
	if !ok {
		return fmt.Sprintf("%T", v)
	}
	n := 0
	fmt.Sscanf(strings.TrimPrefix(strings.TrimPrefix(typ, "BIT("), "SET("), "%d", &n)
	if strings.HasPrefix(typ, "SET") {
		n *= 8
	}
	return fmt.Sprintf("b'%0*b'", n, u)
}

// closeFloat compares a float with its printed form.
func closeFloat(v any, text string) bool {
	want, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil {
		return false
	}
	var got float64
	switch x := v.(type) {
	case float32:
		got = float64(x)
	case float64:
		got = x
	default:
		return false
	}
	return math.Abs(got-want) <= 1e-5*math.Max(1, math.Abs(want))
}

// quoted prints bytes as mariadb-binlog's my_b_write_quoted does.
func quoted(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('\'')
	for _, c := range b {
		if c > 0x1f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	sb.WriteByte('\'')
	return sb.String()
}
