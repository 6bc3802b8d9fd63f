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
}

// collationFunc returns the Collation of a collation name (nil when its
// charset is not covered).
type collationFunc func(ctx context.Context, name, charset string) (*Collation, error)

// loadTable reads a table's columns with their collations' weights, its
// keys and triggers (not its foreign keys). mariadb says whether to expect
// MariaDB's hidden columns.
func loadTable(ctx context.Context, db *sql.DB, schema, table string, mariadb bool, colls collationFunc) (*Table, error) {
	t, err := loadShape(ctx, db, schema, table, mariadb)
	if err != nil {
		return nil, err
	}
	name := quoteName(schema, table)
	for i := range t.Columns {
		col := &t.Columns[i]
		if needsCollation(col.Collation) {
			if col.Weights, err = colls(ctx, col.Collation, col.Charset); err != nil {
				return nil, fmt.Errorf("read column %s of %s: %w", col.Name, name, err)
			}
		}
	}
	if t.HasTriggers, err = loadHasTriggers(ctx, db, schema, table); err != nil {
		return nil, fmt.Errorf("read triggers of %s: %w", name, err)
	}
	return t, nil
}

// loadShape reads a table's columns, in binlog order with MariaDB's hidden
// ones, and its keys: not its collations' weights, triggers or foreign
// keys.
func loadShape(ctx context.Context, db *sql.DB, schema, table string, mariadb bool) (*Table, error) {
	name := quoteName(schema, table)
	info, err := loadTableInfo(ctx, db, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", name, err)
	}
	t := &Table{Schema: schema, Name: table, SystemVersioned: info.tableType == "SYSTEM VERSIONED",
		Sequence: info.tableType == "SEQUENCE", Engine: info.engine, Transactional: info.transactional}
	explicitPeriod, err := loadColumns(ctx, db, t)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("read columns of %s: %w", name, ErrNoTable)
	}
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

// loadTableInfo reads the TABLES row; a missing table or a view is ErrNoTable.
func loadTableInfo(ctx context.Context, db *sql.DB, schema, table string) (tableInfo, error) {
	var info tableInfo
	var engine, transactions sql.NullString
	err := db.QueryRowContext(ctx, `SELECT t.TABLE_TYPE, t.ENGINE, e.TRANSACTIONS
		FROM information_schema.TABLES t LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
		WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?`, schema, table).Scan(&info.tableType, &engine, &transactions)
	switch {
	case err == sql.ErrNoRows:
		return info, ErrNoTable
	case err != nil:
		return info, err
	case info.tableType == "VIEW":
		return info, fmt.Errorf("is a view: %w", ErrNoTable)
	}
	info.engine = engine.String
	// A sequence's row (MariaDB) is stored by a transactional engine,
	// but its changes are not: they survive a ROLLBACK, and a target
	// logging its binlog logs each as a transaction of its own.
	info.transactional = transactions.String == "YES" && info.tableType != "SEQUENCE"
	return info, nil
}

// loadColumns fills t.Columns in ORDINAL_POSITION order. It reports whether
// the table declares its system-versioning period columns (MariaDB's
// GENERATION_EXPRESSION is then "ROW START"/"ROW END").
func loadColumns(ctx context.Context, db *sql.DB, t *Table) (explicitPeriod bool, err error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE,
			IFNULL(CHARACTER_SET_NAME, ''), IFNULL(COLLATION_NAME, ''), IS_NULLABLE,
			IFNULL(CHARACTER_MAXIMUM_LENGTH, 0), EXTRA, IFNULL(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, t.Schema, t.Name)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Column
		var nullable, extra, genExpr string
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &c.Charset, &c.Collation,
			&nullable, &c.CharMaxLen, &extra, &genExpr); err != nil {
			return false, err
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
	return explicitPeriod, rows.Err()
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

// loadHasTriggers reports whether the table has triggers.
func loadHasTriggers(ctx context.Context, db *sql.DB, schema, table string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?`,
		schema, schema, table).Scan(&n)
	return n > 0, err
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
