package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// tableInfo is the TABLES row of a table.
type tableInfo struct {
	tableType     string // "BASE TABLE", "SYSTEM VERSIONED", "VIEW"...
	engine        string
	transactional bool // the engine's TRANSACTIONS in information_schema.ENGINES, false for a sequence
	triggers      bool // the table has triggers
}

// collationFunc returns the Collation of a collation name (nil when its
// charset is not covered).
type collationFunc func(ctx context.Context, name, charset string) (*Collation, error)

// withWeights returns a copy of shape (loadShape's) with its columns'
// collations' weights.
func withWeights(ctx context.Context, shape *Table, colls collationFunc) (*Table, error) {
	t := *shape
	t.Columns = append([]Column(nil), shape.Columns...)
	for i := range t.Columns {
		col := &t.Columns[i]
		if needsCollation(col.Collation) {
			var err error
			if col.Weights, err = colls(ctx, col.Collation, col.Charset); err != nil {
				return nil, fmt.Errorf("read column %s of %s: %w", col.Name, quoteName(t.Schema, t.Name), err)
			}
		}
	}
	return &t, nil
}

// loadShape reads a table's columns, in binlog order with MariaDB's hidden
// ones, its keys and whether it has triggers: not its collations' weights
// or foreign keys. Two statements: the table, its triggers and columns in
// one, its keys in the other (each round trip counts on a distant target).
func loadShape(ctx context.Context, db *sql.DB, schema, table string, mariadb bool) (*Table, error) {
	name := quoteName(schema, table)
	t := &Table{Schema: schema, Name: table}
	info, explicitPeriod, err := loadColumns(ctx, db, t)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", name, err)
	}
	t.SystemVersioned, t.Sequence = info.tableType == "SYSTEM VERSIONED", info.tableType == "SEQUENCE"
	t.Engine, t.Transactional, t.HasTriggers = info.engine, info.transactional, info.triggers
	if mariadb && t.SystemVersioned && !explicitPeriod {
		t.Columns = append(t.Columns,
			hiddenColumn("row_start", "timestamp", "timestamp(6)", false),
			hiddenColumn("row_end", "timestamp", "timestamp(6)", false))
	}
	longUnique, err := loadIndexes(ctx, db, t)
	if err != nil {
		return nil, fmt.Errorf("read keys of %s: %w", name, err)
	}
	if mariadb && !strings.EqualFold(info.engine, "MEMORY") {
		for i := range longUnique {
			t.Columns = append(t.Columns, hiddenColumn(fmt.Sprintf("DB_ROW_HASH_%d", i+1), "bigint", "bigint(20) unsigned", true))
		}
	}
	for i := range t.Columns {
		t.Columns[i].Ordinal = i
	}
	return t, nil
}

func hiddenColumn(name, dataType, columnType string, unsigned bool) Column {
	return Column{Name: name, DataType: dataType, ColumnType: columnType, Unsigned: unsigned,
		Generated: true, Hidden: true, Nullable: unsigned}
}

// loadColumns reads the TABLES row of t, whether it has triggers, and fills
// t.Columns in ORDINAL_POSITION order, in one statement: a missing table or
// a view is ErrNoTable. It reports whether the table declares its
// system-versioning period columns (MariaDB's GENERATION_EXPRESSION is then
// "ROW START"/"ROW END").
//
// Each information_schema table has its own constant schema and table name
// in the WHERE clause: MariaDB then opens the one table (EXPLAIN: "Scanned
// 0 databases"), where a join condition (c.TABLE_NAME = t.TABLE_NAME)
// would have it scan every database's columns.
func loadColumns(ctx context.Context, db *sql.DB, t *Table) (info tableInfo, explicitPeriod bool, err error) {
	rows, err := db.QueryContext(ctx, `SELECT t.TABLE_TYPE, IFNULL(t.ENGINE, ''), IFNULL(e.TRANSACTIONS, ''),
			(SELECT COUNT(*) FROM information_schema.TRIGGERS g
				WHERE g.TRIGGER_SCHEMA = ? AND g.EVENT_OBJECT_SCHEMA = ? AND g.EVENT_OBJECT_TABLE = ?),
			c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
			IFNULL(c.CHARACTER_SET_NAME, ''), IFNULL(c.COLLATION_NAME, ''), c.IS_NULLABLE,
			IFNULL(c.CHARACTER_MAXIMUM_LENGTH, 0), c.EXTRA, IFNULL(c.GENERATION_EXPRESSION, '')
		FROM information_schema.TABLES t JOIN information_schema.COLUMNS c
			LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
		WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ? AND c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
		ORDER BY c.ORDINAL_POSITION`, t.Schema, t.Schema, t.Name, t.Schema, t.Name, t.Schema, t.Name)
	if err != nil {
		return info, false, err
	}
	defer rows.Close()
	var transactions string
	var triggers int
	for rows.Next() {
		var c Column
		var nullable, extra, genExpr string
		if err := rows.Scan(&info.tableType, &info.engine, &transactions, &triggers,
			&c.Name, &c.DataType, &c.ColumnType, &c.Charset, &c.Collation,
			&nullable, &c.CharMaxLen, &extra, &genExpr); err != nil {
			return info, false, err
		}
		c.DataType = strings.ToLower(c.DataType)
		c.Unsigned = containsFold(c.ColumnType, "unsigned")
		c.CaseInsensitive = c.Collation != "" && isCaseInsensitive(c.Collation)
		c.Nullable = nullable == "YES"
		c.Generated = isGenerated(extra)
		c.Invisible = containsFold(extra, "invisible")
		c.AutoIncrement = containsFold(extra, "auto_increment")
		if c.DataType == "binary" {
			c.BinaryPadLen = int(c.CharMaxLen)
		}
		if g := strings.ToUpper(genExpr); g == "ROW START" || g == "ROW END" {
			explicitPeriod = true
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return info, false, err
	}
	switch {
	case len(t.Columns) == 0:
		return info, false, ErrNoTable
	case info.tableType == "VIEW":
		return info, false, fmt.Errorf("is a view: %w", ErrNoTable)
	}
	// A sequence's row (MariaDB) is stored by a transactional engine,
	// but its changes are not: they survive a ROLLBACK, and a target
	// logging its binlog logs each as a transaction of its own.
	info.transactional = transactions == "YES" && info.tableType != "SEQUENCE"
	info.triggers = triggers > 0
	return info, explicitPeriod, nil
}

// isGenerated reads COLUMNS.EXTRA: "VIRTUAL GENERATED", "STORED GENERATED"
// (MariaDB also "PERSISTENT GENERATED"), possibly followed by ", INVISIBLE".
// MySQL's "DEFAULT_GENERATED" (an expression default) is not generated.
func isGenerated(extra string) bool {
	e := strings.ToLower(extra)
	return strings.Contains(e, "virtual generated") || strings.Contains(e, "stored generated") ||
		strings.Contains(e, "persistent generated")
}

// loadIndexes fills t.Indexes with the primary key first, then the unique
// keys by name. It returns the names of the unique keys whose
// index type is HASH (MariaDB long unique keys, each with a hidden column).
func loadIndexes(ctx context.Context, db *sql.DB, t *Table) (longUnique []string, err error) {
	rows, err := db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, IFNULL(SUB_PART, 0), INDEX_TYPE
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, t.Schema, t.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byName := map[string]int{} // index name -> position in t.Indexes
	for rows.Next() {
		var name, indexType string
		var column sql.NullString // NULL for a key part on an expression (MySQL 8)
		var prefix int
		if err := rows.Scan(&name, &column, &prefix, &indexType); err != nil {
			return nil, err
		}
		i, ok := byName[name]
		if !ok {
			i = len(t.Indexes)
			byName[name] = i
			t.Indexes = append(t.Indexes, Index{Name: name, Primary: name == "PRIMARY", Unique: true})
			if strings.EqualFold(indexType, "HASH") {
				longUnique = append(longUnique, name)
			}
		}
		ord := -1
		if column.Valid {
			if ord = t.ColumnIndex(column.String); ord < 0 {
				return nil, fmt.Errorf("key %s: column %s not in the table", name, column.String)
			}
		}
		t.Indexes[i].Columns = append(t.Indexes[i].Columns, ord)
		t.Indexes[i].Prefix = append(t.Indexes[i].Prefix, prefix)
	}
	return longUnique, rows.Err()
}

// quoteName formats `schema`.`table`, doubling backticks.
func quoteName(schema, table string) string {
	return quoteIdent(schema) + "." + quoteIdent(table)
}

// quoteIdent quotes an identifier with backticks, doubling inner ones.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}
