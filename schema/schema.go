// Package schema reads, from the target server, what the applier and the
// partitioner need to know about a table: its columns in binlog order, its
// primary and unique keys, its foreign keys in both directions and whether it
// has triggers. A Cache keeps what it read until the applier invalidates it
// after a DDL.
//
// Column order. Row events identify columns by position only. On MariaDB
// 10.11 (checked with real binlogs, see cache_test.go) the table map lists
// the columns in information_schema ORDINAL_POSITION order, VIRTUAL and
// STORED generated columns and INVISIBLE columns included, and ALTER TABLE
// ... FIRST/AFTER is reflected in both. Two kinds of MariaDB columns are in
// the table map but not in information_schema; the cache appends them, in the
// server's order, as Hidden columns:
//   - row_start and row_end of a table WITH SYSTEM VERSIONING whose period
//     columns were not declared: they come after every declared column;
//   - DB_ROW_HASH_<n>, one BIGINT UNSIGNED per long unique key (a UNIQUE key
//     with index type HASH, on a BLOB or declared USING HASH; not in MEMORY
//     tables, whose HASH keys are real), after everything else.
//
// Callers must still check that the table map's column count equals
// len(Table.Columns) before trusting positions.
//
// Collations. For every text column with a non-_bin collation the cache
// also reads, once per collation, the weight the server gives each
// character (Collation), so that write-set keys can treat strings exactly
// as the server's unique checks do.
package schema

import (
	"errors"
	"strings"
)

// ErrNoTable is wrapped by the error Cache.Table returns when the table does
// not exist on the target (or is a view).
var ErrNoTable = errors.New("no such table")

// Column is one column of a table, in table-map order.
type Column struct {
	// Name is the column name as the server reports it.
	Name string
	// Ordinal is the 0-based position of the column in row images.
	Ordinal int
	// DataType is the lower-case type name: "int", "varchar", "binary"...
	DataType string
	// ColumnType is the full type: "int(10) unsigned", "varchar(32)"...
	ColumnType string
	// Unsigned is set for unsigned numeric columns.
	Unsigned bool
	// Charset and Collation are those of a character column; both are empty
	// for binary and non-string columns.
	Charset   string
	Collation string
	// CaseInsensitive is set when the collation is case or accent
	// insensitive (its name ends in _ci or has _ai).
	CaseInsensitive bool
	// Generated is set for VIRTUAL and STORED generated columns (and for
	// the Hidden columns, which the server computes). They must not be
	// written.
	Generated bool
	// Invisible is set for INVISIBLE columns: present in row images, but
	// not selected by SELECT *.
	Invisible bool
	// Hidden is set for columns that the binlog carries but that are not
	// in information_schema (see the package comment). They must not be
	// written.
	Hidden bool
	// Nullable says whether the column accepts NULL.
	Nullable bool
	// AutoIncrement is set for the table's AUTO_INCREMENT column.
	AutoIncrement bool
	// CharMaxLen is CHARACTER_MAXIMUM_LENGTH (0 for non-string columns).
	CharMaxLen int64
	// BinaryPadLen is n for BINARY(n), whose values the server pads with
	// 0x00 and the binlog stores without that padding; 0 otherwise.
	BinaryPadLen int
	// Weights is how the column's collation compares strings, for text
	// columns whose collation is not a _bin one; nil for other columns.
	Weights *Collation
}

// IsText reports whether the column holds character data with a collation
// (CHAR, VARCHAR, TEXT, ENUM and SET as text), as opposed to bytes.
func (c *Column) IsText() bool { return c.Collation != "" && c.Collation != "binary" }

// Index is a primary or unique key.
type Index struct {
	// Name is the index name ("PRIMARY" for the primary key).
	Name string
	// Primary is set for the primary key; Unique is set for it too.
	Primary, Unique bool
	// Columns are the ordinals of the key's columns, in key order; -1 for
	// a key part on an expression (MySQL functional key), whose values the
	// row images do not show.
	Columns []int
	// Prefix gives, per key column, the prefix length the key is on (in
	// characters for character columns, bytes otherwise), or 0 when the
	// key is on the whole value.
	Prefix []int
}

// ForeignKey is a foreign key constraint from a child table to a parent.
type ForeignKey struct {
	// Name is the constraint name.
	Name string
	// Schema and Table name the child table, which holds the constraint.
	Schema, Table string
	// ColumnNames are the child's columns, in constraint order.
	ColumnNames []string
	// Columns are the child's column ordinals, in constraint order. Set in
	// Table.ForeignKeys; nil in Table.ReferencedBy.
	Columns []int
	// RefSchema and RefTable name the parent table.
	RefSchema, RefTable string
	// RefColumns are the parent's columns, matching ColumnNames one by one.
	RefColumns []string
	// OnDelete and OnUpdate are the referential actions: "CASCADE",
	// "SET NULL", "SET DEFAULT", "RESTRICT" or "NO ACTION".
	OnDelete, OnUpdate string
}

// ChangesChildren reports whether the server itself writes child rows when
// a parent row is deleted (onDelete) or its referenced columns are updated
// (!onDelete): the CASCADE, SET NULL and SET DEFAULT actions. Those writes
// are not in the binlog.
func (fk *ForeignKey) ChangesChildren(onDelete bool) bool {
	rule := fk.OnUpdate
	if onDelete {
		rule = fk.OnDelete
	}
	switch strings.ToUpper(rule) {
	case "CASCADE", "SET NULL", "SET DEFAULT":
		return true
	}
	return false
}

// Table is what the target says about one table.
type Table struct {
	Schema, Name string
	// Columns are all the columns of row images, in table-map order.
	Columns []Column
	// Indexes are the primary key (first, if any) and the unique keys.
	// Non-unique indexes are not listed.
	Indexes []Index
	// ForeignKeys are the constraints this table holds (it is the child).
	ForeignKeys []ForeignKey
	// ReferencedBy are the constraints of other tables (or of this one)
	// that reference this table (it is the parent).
	ReferencedBy []ForeignKey
	// HasTriggers is set when the table has triggers on the target. Row
	// events applied by a replica do not fire them (MariaDB's
	// slave_run_triggers_for_rbr is off by default).
	HasTriggers bool
	// SystemVersioned is set for MariaDB tables WITH SYSTEM VERSIONING.
	SystemVersioned bool
	// Sequence is set for a MariaDB sequence (CREATE SEQUENCE): its one
	// row holds the sequence's state, and a row event on it sets that
	// state whole.
	Sequence bool
	// Engine is the table's storage engine; Transactional says whether
	// the server reports it as supporting transactions (InnoDB: yes;
	// MyISAM, Aria, MEMORY, CSV: no, their writes survive a ROLLBACK),
	// false for a sequence, whose changes survive a ROLLBACK whatever
	// its engine.
	Engine        string
	Transactional bool
}

// PrimaryKey returns the primary key, or nil when the table has none.
func (t *Table) PrimaryKey() *Index {
	if len(t.Indexes) > 0 && t.Indexes[0].Primary {
		return &t.Indexes[0]
	}
	return nil
}

// ColumnIndex returns the ordinal of the column named name (compared case
// insensitively, as the server does), or -1.
func (t *Table) ColumnIndex(name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// isCaseInsensitive reports whether a collation name is case or accent
// insensitive: utf8mb4_general_ci, latin1_swedish_ci, utf8mb4_0900_ai_ci,
// uca1400_ai_ci... but not utf8mb4_bin or utf8mb4_0900_as_cs.
func isCaseInsensitive(collation string) bool {
	c := strings.ToLower(collation)
	return strings.HasSuffix(c, "_ci") || strings.Contains(c, "_ai_") || strings.HasSuffix(c, "_ai")
}
