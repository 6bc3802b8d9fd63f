package verify

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// systemDatabases are never compared unless named in Options.Databases.
var systemDatabases = []string{"mysql", "information_schema", "performance_schema", "sys", "binlog_replay"}

// querier is the part of *sql.Conn (and *sql.DB) the package reads with.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// column is one column of a table as information_schema describes it.
type column struct {
	Name       string
	Ordinal    int
	DataType   string // lower case DATA_TYPE, e.g. "varchar"
	ColumnType string // normalized COLUMN_TYPE, e.g. "varchar(20)"
	Nullable   bool
	Charset    string // as the server names it; empty for non-string columns
	Collation  string // as the server names it; compare with normalizeCollation
	Precision  sql.NullInt64
	Scale      sql.NullInt64
	GenExpr    string
	Default    string // normalizeDefault of COLUMN_DEFAULT
	OnUpdate   string // the ON UPDATE of EXTRA, e.g. "CURRENT_TIMESTAMP(6)"; empty for none
	Virtual    bool   // VIRTUAL generated: computed on read, not hashed
	Period     bool   // system-versioning ROW START/END: differs by design, not hashed
}

// indexPart is one column of an index; SubPart > 0 for a prefix.
type indexPart struct {
	Column  string // empty for a functional key part
	SubPart int64
}

// index is one index of a table.
type index struct {
	Name   string
	Unique bool
	Type   string
	Parts  []indexPart
}

// tableSchema is what Compare knows of one table.
type tableSchema struct {
	Schema, Name string
	Collation    string
	Columns      []column
	Indexes      []index // sorted by name, PRIMARY first
}

// listDatabases returns the non-system databases of a server, sorted.
// It returns an error if information_schema cannot be read.
func listDatabases(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	defer rows.Close()
	var dbs []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		if !isSystemDatabase(name) {
			dbs = append(dbs, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	sort.Strings(dbs)
	return dbs, nil
}

func isSystemDatabase(name string) bool {
	for _, s := range systemDatabases {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// loadDatabase reads the base tables of database db with their columns and
// indexes. A database that does not exist yields an empty map. It returns an
// error if information_schema cannot be read.
func loadDatabase(ctx context.Context, q querier, db string) (map[string]*tableSchema, error) {
	tables, err := loadTables(ctx, q, db)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return tables, nil
	}
	if err := loadColumns(ctx, q, db, tables); err != nil {
		return nil, err
	}
	if err := loadIndexes(ctx, q, db, tables); err != nil {
		return nil, err
	}
	return tables, nil
}

func loadTables(ctx context.Context, q querier, db string) (map[string]*tableSchema, error) {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(TABLE_COLLATION, '')
		FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE')`, db)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", quoteIdent(db), err)
	}
	defer rows.Close()
	tables := make(map[string]*tableSchema)
	for rows.Next() {
		t := &tableSchema{Schema: db}
		if err := rows.Scan(&t.Name, &t.Collation); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", quoteIdent(db), err)
		}
		t.Collation = normalizeCollation(t.Collation)
		tables[t.Name] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", quoteIdent(db), err)
	}
	return tables, nil
}

func loadColumns(ctx context.Context, q querier, db string, tables map[string]*tableSchema) error {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION,
		LOWER(DATA_TYPE), COLUMN_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, ''),
		COALESCE(COLLATION_NAME, ''), NUMERIC_PRECISION, NUMERIC_SCALE,
		COALESCE(GENERATION_EXPRESSION, ''), UPPER(EXTRA), COLUMN_DEFAULT
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`, db)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", quoteIdent(db), err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, nullable, extra string
		var def sql.NullString
		var c column
		if err := rows.Scan(&table, &c.Name, &c.Ordinal, &c.DataType, &c.ColumnType, &nullable,
			&c.Charset, &c.Collation, &c.Precision, &c.Scale, &c.GenExpr, &extra, &def); err != nil {
			return fmt.Errorf("read columns of %s: %w", quoteIdent(db), err)
		}
		c.Nullable = nullable == "YES"
		c.Default, c.OnUpdate = normalizeDefault(def), onUpdate(extra)
		c.Virtual = strings.Contains(extra, "VIRTUAL")
		c.Period = strings.Contains(extra, "ROW START") || strings.Contains(extra, "ROW END")
		c.ColumnType = normalizeColumnType(c.ColumnType)
		if t := tables[table]; t != nil {
			t.Columns = append(t.Columns, c)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns of %s: %w", quoteIdent(db), err)
	}
	return nil
}

func loadIndexes(ctx context.Context, q querier, db string, tables map[string]*tableSchema) error {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE,
		COALESCE(COLUMN_NAME, ''), COALESCE(SUB_PART, 0)
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, db)
	if err != nil {
		return fmt.Errorf("read indexes of %s: %w", quoteIdent(db), err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, typ string
		var nonUnique int
		var part indexPart
		if err := rows.Scan(&table, &name, &nonUnique, &typ, &part.Column, &part.SubPart); err != nil {
			return fmt.Errorf("read indexes of %s: %w", quoteIdent(db), err)
		}
		t := tables[table]
		if t == nil {
			continue
		}
		n := len(t.Indexes)
		if n == 0 || t.Indexes[n-1].Name != name {
			t.Indexes = append(t.Indexes, index{Name: name, Unique: nonUnique == 0, Type: typ})
			n++
		}
		t.Indexes[n-1].Parts = append(t.Indexes[n-1].Parts, part)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indexes of %s: %w", quoteIdent(db), err)
	}
	for _, t := range tables {
		sort.SliceStable(t.Indexes, func(i, j int) bool {
			a, b := t.Indexes[i].Name, t.Indexes[j].Name
			if (a == "PRIMARY") != (b == "PRIMARY") {
				return a == "PRIMARY"
			}
			return a < b
		})
	}
	return nil
}

// intWidth matches the display width of integer types, which MySQL 8.0.19+
// no longer reports; it carries no data, so it is dropped before comparing.
var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|bigint)\(\d+\)`)

func normalizeColumnType(t string) string {
	t = strings.ToLower(t)
	if !strings.Contains(t, "zerofill") {
		t = intWidth.ReplaceAllString(t, "$1")
	}
	return t
}

// normalizeCollation maps the old utf8 alias to utf8mb3, as MariaDB 10.6+
// and MySQL 8.0.30+ name it.
func normalizeCollation(c string) string {
	c = strings.ToLower(c)
	if c == "utf8" || strings.HasPrefix(c, "utf8_") {
		return "utf8mb3" + c[len("utf8"):]
	}
	return c
}

// schemaDiff lists the differences between the schema of a table on the
// target and on the reference; nil when they are the same.
func schemaDiff(target, ref *tableSchema) []string {
	var diffs []string
	if target.Collation != ref.Collation {
		diffs = append(diffs, fmt.Sprintf("table collation: target %s, reference %s", target.Collation, ref.Collation))
	}
	tcols := make(map[string]column, len(target.Columns))
	for _, c := range target.Columns {
		tcols[c.Name] = c
	}
	rcols := make(map[string]bool, len(ref.Columns))
	for _, rc := range ref.Columns {
		rcols[rc.Name] = true
		tc, ok := tcols[rc.Name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("column %s: missing in target", quoteIdent(rc.Name)))
			continue
		}
		for _, d := range columnDiff(tc, rc) {
			diffs = append(diffs, fmt.Sprintf("column %s: %s", quoteIdent(rc.Name), d))
		}
	}
	for _, tc := range target.Columns {
		if !rcols[tc.Name] {
			diffs = append(diffs, fmt.Sprintf("column %s: missing in reference", quoteIdent(tc.Name)))
		}
	}
	return append(diffs, indexDiff(target.Indexes, ref.Indexes)...)
}

// normalizeDefault returns a column's COLUMN_DEFAULT in one spelling for
// MariaDB and MySQL: NULL for none (MariaDB writes the text NULL, MySQL
// SQL NULL), a string without MariaDB's quotes (MySQL writes none),
// CURRENT_TIMESTAMP without MariaDB's parentheses and in capitals.
func normalizeDefault(d sql.NullString) string {
	if !d.Valid || d.String == "NULL" {
		return "NULL"
	}
	s := d.String
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return normalizeNow(s)
}

// onUpdate returns the ON UPDATE clause of a column's EXTRA (upper
// case), normalized as normalizeNow, or "".
func onUpdate(extra string) string {
	_, after, ok := strings.Cut(extra, "ON UPDATE ")
	if !ok {
		return ""
	}
	word, _, _ := strings.Cut(after, " ")
	return normalizeNow(word)
}

// normalizeNow writes CURRENT_TIMESTAMP, current_timestamp() and their
// precisions alike: CURRENT_TIMESTAMP, CURRENT_TIMESTAMP(6). Other text
// is returned as it is.
func normalizeNow(s string) string {
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "CURRENT_TIMESTAMP") {
		return s
	}
	return strings.TrimSuffix(u, "()")
}

func columnDiff(t, r column) []string {
	var diffs []string
	add := func(what, tv, rv string) {
		if tv != rv {
			diffs = append(diffs, fmt.Sprintf("%s: target %q, reference %q", what, tv, rv))
		}
	}
	add("position", fmt.Sprint(t.Ordinal), fmt.Sprint(r.Ordinal))
	add("type", t.ColumnType, r.ColumnType)
	add("nullable", fmt.Sprint(t.Nullable), fmt.Sprint(r.Nullable))
	add("collation", normalizeCollation(t.Collation), normalizeCollation(r.Collation))
	add("generation expression", t.GenExpr, r.GenExpr)
	if t.GenExpr == "" && r.GenExpr == "" {
		add("default", t.Default, r.Default)
	}
	add("on update", t.OnUpdate, r.OnUpdate)
	add("virtual", fmt.Sprint(t.Virtual), fmt.Sprint(r.Virtual))
	return diffs
}

func indexDiff(target, ref []index) []string {
	var diffs []string
	tidx := make(map[string]string, len(target))
	for _, ix := range target {
		tidx[ix.Name] = ix.describe()
	}
	ridx := make(map[string]bool, len(ref))
	for _, ix := range ref {
		ridx[ix.Name] = true
		td, ok := tidx[ix.Name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("index %s: missing in target", quoteIdent(ix.Name)))
		case td != ix.describe():
			diffs = append(diffs, fmt.Sprintf("index %s: target %s, reference %s", quoteIdent(ix.Name), td, ix.describe()))
		}
	}
	for _, ix := range target {
		if !ridx[ix.Name] {
			diffs = append(diffs, fmt.Sprintf("index %s: missing in reference", quoteIdent(ix.Name)))
		}
	}
	return diffs
}

// describe renders an index as "UNIQUE BTREE (a,b(10))".
func (ix index) describe() string {
	parts := make([]string, len(ix.Parts))
	for i, p := range ix.Parts {
		name := p.Column
		if name == "" {
			name = "<expr>"
		}
		if p.SubPart > 0 {
			name = fmt.Sprintf("%s(%d)", name, p.SubPart)
		}
		parts[i] = name
	}
	kind := "INDEX"
	if ix.Unique {
		kind = "UNIQUE"
	}
	return fmt.Sprintf("%s %s (%s)", kind, ix.Type, strings.Join(parts, ","))
}

// fingerprint is a canonical text of the schema, used in Checksum digests.
func (t *tableSchema) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "collation=%s\n", t.Collation)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "col %d %q %s null=%v coll=%s gen=%q virtual=%v default=%q onupdate=%q\n",
			c.Ordinal, c.Name, c.ColumnType, c.Nullable, normalizeCollation(c.Collation), c.GenExpr, c.Virtual, c.Default, c.OnUpdate)
	}
	for _, ix := range t.Indexes {
		fmt.Fprintf(&b, "index %q %s\n", ix.Name, ix.describe())
	}
	return b.String()
}

// quoteIdent quotes a MySQL identifier with backticks, doubling any inside.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteTable quotes db.table.
func quoteTable(db, table string) string {
	return quoteIdent(db) + "." + quoteIdent(table)
}
