package partition

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/schema"
)

// testCollations are checked against the server by TestCollationKeys.
var testCollations = []string{
	"utf8mb4_general_ci", "utf8mb4_unicode_ci", "utf8mb4_unicode_520_ci", "utf8mb4_general_nopad_ci",
	"utf8mb3_general_ci", "utf8mb4_danish_ci", "utf8mb4_czech_ci", "utf8mb4_bin",
	"latin1_swedish_ci", "latin1_general_ci", "latin1_german2_ci", "latin1_general_cs", "latin1_bin",
	"latin2_czech_cs", "utf16_general_ci",
}

// inexactCollations have contractions or a charset whose weights are not
// read: all their values must hash alike.
var inexactCollations = map[string]bool{"utf8mb4_danish_ci": true, "utf8mb4_czech_ci": true,
	"latin2_czech_cs": true, "utf16_general_ci": true}

// collationRunes are the single characters TestCollationKeys compares:
// ASCII, Latin-1, Latin Extended-A and -B, Greek, Cyrillic, fullwidth
// forms, zero-width characters and a few supplementary ones.
func collationRunes() []rune {
	var rs []rune
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			rs = append(rs, r)
		}
	}
	add(0x20, 0x7E)
	add(0xA0, 0x24F)
	add(0x370, 0x3FF)
	add(0x400, 0x45F)
	add(0xFF01, 0xFF5E)
	rs = append(rs, 0x200B, 0x200C, 0x200D, 0xFEFF, 0x0301, 0x0308, 0xFFFD,
		0x1D400, 0x1D41A, 0x1F600, 0x1F603, 0x20000, 0x2F800)
	return rs
}

// collationStrings are multi-character values compared pairwise.
var collationStrings = []string{"ss", "ß", "Straße", "STRASSE", "ae", "æ", "Æ", "aa", "å", "Å", "ch", "c", "h",
	"cH", "a ", "a", "a\u00a0", "a\u200b", "e\u0301", "é", "E", "Ǎbc", "abc", "ü", "y", "ue", "Ü", "oe", "ö",
	"x  ", "x", "", " ", "lj", "ǉ", "𝐀", "A", "😀", "😃", "\ufffd"}

// TestCollationKeys asks MariaDB which values each collation considers
// equal and checks that Keys hash them alike: single characters by
// WEIGHT_STRING classes, and pairs of collationStrings by '='. Equal values
// hashed apart would be missed conflicts and fail the test; different
// values hashed alike are false dependencies, only counted.
func TestCollationKeys(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{})
	db, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var vals, cols []string
	for _, r := range collationRunes() {
		vals = append(vals, fmt.Sprintf("(%d, _utf8mb4 0x%x)", r, string(r)))
	}
	for i, coll := range testCollations {
		cs, _, _ := strings.Cut(coll, "_")
		cols = append(cols, fmt.Sprintf("c%d VARCHAR(20) CHARSET %s COLLATE %s", i, cs, coll))
	}
	for _, q := range []string{"CREATE DATABASE d",
		"CREATE TABLE d.chars (r INT PRIMARY KEY, c VARCHAR(4) CHARSET utf8mb4 COLLATE utf8mb4_bin)",
		"INSERT INTO d.chars VALUES " + strings.Join(vals, ","),
		"CREATE TABLE d.colls (id INT PRIMARY KEY, " + strings.Join(cols, ", ") + ")"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	start := time.Now()
	tab, err := schema.NewCache(db).Table(ctx, "d", "colls")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d collations in %v", len(testCollations), time.Since(start))
	for i, coll := range testCollations {
		col := &tab.Columns[i+1]
		t.Run(coll, func(t *testing.T) {
			if (col.Weights == nil) != strings.HasSuffix(coll, "_bin") {
				t.Fatalf("Weights = %v", col.Weights)
			}
			if col.Weights != nil && col.Weights.Inexact != inexactCollations[coll] {
				t.Errorf("Inexact = %v", col.Weights.Inexact)
			}
			checkCharClasses(t, db, col)
			checkStringPairs(t, db, col)
		})
	}
}

// checkCharClasses compares WEIGHT_STRING classes of single characters
// with Key hashes.
func checkCharClasses(t *testing.T, db *sql.DB, col *schema.Column) {
	t.Helper()
	cs := col.Charset
	// CAST AS BINARY: the charset's own bytes, not converted for the client.
	q := fmt.Sprintf(`SELECT r, CAST(CONVERT(c USING %[1]s) AS BINARY), WEIGHT_STRING(CONVERT(c USING %[1]s) COLLATE %[2]s)
		FROM d.chars WHERE CONVERT(CONVERT(c USING %[1]s) USING utf8mb4) = c`, cs, col.Collation)
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	byWeight := map[string][]rune{}
	hashOf := map[rune]hasher{}
	for rows.Next() {
		var r rune
		var b, weight []byte
		if err := rows.Scan(&r, &b, &weight); err != nil {
			t.Fatal(err)
		}
		hashOf[r] = textHash(b, col)
		byWeight[string(weight)] = append(byWeight[string(weight)], r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	classes := map[hasher]bool{}
	for _, group := range byWeight {
		for _, r := range group[1:] {
			if hashOf[r] != hashOf[group[0]] {
				t.Errorf("%q (U+%04X) and %q (U+%04X) are equal but hash apart", group[0], group[0], r, r)
			}
		}
		classes[hashOf[group[0]]] = true
	}
	t.Logf("%d characters: %d classes on the server, %d hash classes", len(hashOf), len(byWeight), len(classes))
}

// checkStringPairs compares '=' on pairs of collationStrings with Key
// hashes.
func checkStringPairs(t *testing.T, db *sql.DB, col *schema.Column) {
	t.Helper()
	falseDeps := 0
	for i, a := range collationStrings {
		for _, b := range collationStrings[i+1:] {
			var equal sql.NullBool
			var ab, bb []byte
			q := fmt.Sprintf(`SELECT CONVERT(? USING %[1]s) = CONVERT(? USING %[1]s) COLLATE %[2]s,
				CAST(CONVERT(? USING %[1]s) AS BINARY), CAST(CONVERT(? USING %[1]s) AS BINARY)`,
				col.Charset, col.Collation)
			if err := db.QueryRow(q, a, b, a, b).Scan(&equal, &ab, &bb); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(ab)+string(bb), "?") {
				continue // not representable in the charset
			}
			same := textHash(ab, col) == textHash(bb, col)
			if equal.Bool && !same {
				t.Errorf("%q and %q are equal but hash apart", a, b)
			}
			if !equal.Bool && same {
				falseDeps++
			}
		}
	}
	t.Logf("string pairs: %d false dependencies", falseDeps)
}

func textHash(b []byte, col *schema.Column) hasher {
	h := fnvOffset
	writeBytes(&h, b, col, 0)
	return h
}
