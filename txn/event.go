package txn

// Event is one binlog event inside a transaction. Exactly one of the typed
// fields is set, according to Kind.
type Event struct {
	Kind EventKind
	// Type is the event's type code as written in its header.
	Type byte
	// TypeName is the event type's name, for messages ("WRITE_ROWS_EVENT_V2").
	TypeName string
	// Pos is the position of the event's first byte.
	Pos Position
	// Timestamp is the header's timestamp (seconds since the epoch).
	Timestamp uint32
	// Raw is the whole event (header, body and checksum) as in the file,
	// ready to pass through in a BINLOG statement. For a MariaDB compressed
	// row event (types 166-168) it is the equivalent uncompressed v1 event
	// (types 23-25), which is what a server's BINLOG statement accepts;
	// Type and TypeName still name the event in the file. For an event
	// that came out of a MySQL 8 compressed transaction payload, it is the
	// event's stand-alone form (a CRC32 added when the file has checksums).
	Raw []byte
	// InPayload is the event's index (from 1) in the MySQL 8 compressed
	// transaction payload it came out of (Pos is the payload's); 0 for an
	// event of the file.
	InPayload int

	Query    *Query
	TableMap *TableMap
	Rows     *Rows
	IntVar   *IntVar
	Rand     *Rand
	UserVar  *UserVar
}

// EventKind classifies the events a Txn can hold.
type EventKind uint8

// Event kinds.
const (
	EventQuery EventKind = iota + 1
	EventTableMap
	EventRows
	EventIntVar
	EventRand
	EventUserVar
)

// Query is a statement event: DDL, statement-format DML, BEGIN or COMMIT.
type Query struct {
	// Schema is the default database the statement ran in ("" for none).
	Schema string
	// SuppressUse is set when the server flagged the event
	// LOG_EVENT_SUPPRESS_USE_F (CREATE, ALTER and DROP DATABASE): the
	// statement must not run with Schema as default database, which may
	// not exist (it may be the database being created).
	SuppressUse bool
	// ThreadSpecific is set when the server flagged the event
	// LOG_EVENT_THREAD_SPECIFIC_F: the statement used a temporary table
	// (or called CONNECTION_ID()), so it depends on its session.
	ThreadSpecific bool
	// SQL is the statement text as bytes: its character set is the one in
	// Status, not necessarily UTF-8.
	SQL []byte
	// ThreadID is the source session's id (pseudo_thread_id, which scopes
	// temporary tables, with the server id: Txn.SessionOf).
	ThreadID uint32
	// ErrorCode is the error the statement raised on the source, if any.
	ErrorCode uint16
	// Status is the session context logged with the statement.
	Status Status
	// Load, for a LOAD DATA INFILE statement logged as such
	// (EXECUTE_LOAD_QUERY), is the file's content the source logged
	// before it; nil for other statements.
	Load *LoadData
}

// LoadData is the file of a LOAD DATA INFILE statement, as the binlog
// carries it (BEGIN_LOAD_QUERY and APPEND_BLOCK events).
type LoadData struct {
	// Data is the file's content.
	Data []byte
	// FileStart and FileEnd delimit, in the statement's SQL, the part
	// naming the file (from " INFILE" to "INTO", as the server logs it):
	// a client replaces it with LOCAL INFILE and a file of its own.
	FileStart, FileEnd int
	// Dup is the statement's duplicate handling: LoadDupError,
	// LoadDupIgnore or LoadDupReplace.
	Dup uint8
}

// LoadData duplicate handling.
const (
	LoadDupError   = 0
	LoadDupIgnore  = 1
	LoadDupReplace = 2
)

// Status is the session context a query event carries in its status
// variables. Has* fields say which parts the event actually contained.
type Status struct {
	// SessionModes are the statement's option flags, SQL mode and
	// auto-increment settings.
	SessionModes
	// SessionLocale are its character sets, collations, time zone and
	// names of days and months.
	SessionLocale

	// HasMicroseconds and Microseconds give the statement's start time
	// fraction (MySQL Q_MICROSECONDS, MariaDB Q_HRNOW).
	HasMicroseconds bool
	Microseconds    uint32

	HasExplicitDefaultsForTimestamp bool
	ExplicitDefaultsForTimestamp    bool
}

// SessionModes are the option flags, SQL mode and auto-increment settings
// a query event carries (see Status).
type SessionModes struct {
	HasFlags2 bool
	// Flags2 holds OPTION_* bits: 1<<14 AUTO_IS_NULL, 1<<19 NOT_AUTOCOMMIT,
	// 1<<26 NO_FOREIGN_KEY_CHECKS, 1<<27 RELAXED_UNIQUE_CHECKS.
	Flags2 uint32

	HasSQLMode bool
	SQLMode    uint64

	HasAutoIncrement    bool
	AutoIncrementIncr   uint16
	AutoIncrementOffset uint16
}

// SessionLocale are the character sets, collations, time zone and
// lc_time_names a query event carries (see Status).
type SessionLocale struct {
	HasCharset bool
	// CharsetClient, CollationConnection and CollationServer are collation ids.
	CharsetClient       uint16
	CollationConnection uint16
	CollationServer     uint16

	HasTimeZone bool
	TimeZone    string

	HasLCTimeNames bool
	LCTimeNames    uint16

	HasCollationDatabase bool
	CollationDatabase    uint16
}

// Flags2 bits. The first four are written by every server; the others by
// MariaDB (Format.Flags2Written says which of them a binlog's server
// writes).
const (
	Flags2AutoIsNull          = 1 << 14
	Flags2NotAutocommit       = 1 << 19
	Flags2NoForeignKeyChecks  = 1 << 26
	Flags2RelaxedUniqueChecks = 1 << 27

	// Flags2NoCheckConstraintChecks is check_constraint_checks=0.
	Flags2NoCheckConstraintChecks = 1 << 15
	// Flags2ExplicitDefaultsForTimestamp is explicit_defaults_for_timestamp=1.
	Flags2ExplicitDefaultsForTimestamp = 1 << 24
	// Flags2IfExists is sql_if_exists=1.
	Flags2IfExists = 1 << 28
	// Flags2InsertHistory is system_versioning_insert_history=1.
	Flags2InsertHistory = 1 << 30
)

// IntVar is an INTVAR event: the LAST_INSERT_ID() or INSERT_ID a following
// statement-format query must see.
type IntVar struct {
	// Type is 1 for LAST_INSERT_ID, 2 for INSERT_ID.
	Type  uint8
	Value uint64
}

// IntVar types.
const (
	IntVarLastInsertID = 1
	IntVarInsertID     = 2
)

// Rand is a RAND event: the seeds of RAND() for the following query.
type Rand struct{ Seed1, Seed2 uint64 }

// UserVar is a USER_VAR event: a user variable a following query reads.
type UserVar struct {
	Name   string
	IsNull bool
	// ValueType is the item result type: 0 STRING, 1 REAL, 2 INT, 4 DECIMAL.
	ValueType uint8
	// Collation is the collation id of a string value.
	Collation uint32
	// Value is the value's bytes as logged (little-endian for INT and REAL,
	// packed binary for DECIMAL, the string's bytes for STRING).
	Value []byte
	// Unsigned is set for an unsigned INT value.
	Unsigned bool
}

// UserVar value types.
const (
	UserVarString  = 0
	UserVarReal    = 1
	UserVarInt     = 2
	UserVarDecimal = 4
)

// TableMap describes the table that following row events write to.
type TableMap struct {
	ID     uint64
	Schema string
	Table  string
	// ColumnTypes are the MYSQL_TYPE_* codes of the columns, in order.
	ColumnTypes []byte
	// ColumnMeta is the per-column metadata (length, precision...).
	ColumnMeta []uint16
	// Nullable says which columns may be NULL.
	Nullable []bool
	// Optional metadata (binlog_row_metadata=FULL, or MySQL 8 MINIMAL):
	// nil where the event did not carry it.
	ColumnNames []string
	// Unsigned says, per numeric column, whether it is unsigned; nil when
	// the event did not say.
	Unsigned []bool
	// PrimaryKey lists the primary key's column indexes, if logged.
	PrimaryKey []int
}

// TypeJSON is MYSQL_TYPE_JSON, the column type MySQL logs for its JSON
// columns (MySQL's binary JSON in row images). MariaDB's JSON is a LONGTEXT,
// logged as a BLOB.
const TypeJSON = 245

// HasJSON reports whether the table has a MySQL JSON column (TypeJSON).
func (tm *TableMap) HasJSON() bool {
	for _, t := range tm.ColumnTypes {
		if t == TypeJSON {
			return true
		}
	}
	return false
}

// SequenceShaped reports whether the table map has the columns of a
// MariaDB sequence (next_not_cached_value, minimum_value, maximum_value,
// start_value, increment, cache_size: BIGINT; cycle_option: TINYINT;
// cycle_count: BIGINT; none nullable). A table of the same columns may
// be a plain table: the target's definition says which.
func (tm *TableMap) SequenceShaped() bool {
	const longlong, tiny = 8, 1
	shape := [...]byte{longlong, longlong, longlong, longlong, longlong, longlong, tiny, longlong}
	if len(tm.ColumnTypes) != len(shape) {
		return false
	}
	for i, t := range tm.ColumnTypes {
		if t != shape[i] || i < len(tm.Nullable) && tm.Nullable[i] {
			return false
		}
	}
	return true
}

// Op is the operation of a row event.
type Op uint8

// Row operations.
const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
)

// String returns "insert", "update" or "delete".
func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "op?"
}

// Rows is a decoded row event (WRITE/UPDATE/DELETE_ROWS, v0 to v2, and
// MariaDB's compressed forms).
type Rows struct {
	Op    Op
	Table *TableMap
	// Flags are the event's flags: 1 STMT_END, 2 NO_FOREIGN_KEY_CHECKS,
	// 4 RELAXED_UNIQUE_CHECKS, 8 COMPLETE_ROWS.
	Flags uint16
	// Columns says which columns the images hold (before image for update
	// and delete, after image for insert); ColumnsAfter is for updates.
	Columns      []bool
	ColumnsAfter []bool
	// Rows holds the images: for insert and delete one image per row, for
	// update a before image followed by its after image. A column absent
	// from the image (MINIMAL/NOBLOB) is nil, like NULL: check Columns.
	// Values are nil, int64, uint64, float32, float64, string (DECIMAL,
	// temporal types and JSON as MySQL text) or []byte (everything else);
	// in the after image of a PARTIAL_UPDATE_ROWS event, a JSON column
	// updated in part holds []JSONDiff, the changes to make to its value.
	Rows [][]any
	// Decoded is false when the reader was asked not to decode row images:
	// then Rows is empty and only Raw (on the Event) is usable.
	Decoded bool
}

// Count is the number of rows the event changes: its images, an
// update's before and after image counting as one row.
func (r *Rows) Count() int {
	if r.Op == OpUpdate {
		return len(r.Rows) / 2
	}
	return len(r.Rows)
}

// JSONDiff is one change of a MySQL partial JSON update
// (binlog_row_value_options=PARTIAL_JSON): the after image of a
// PARTIAL_UPDATE_ROWS event holds, for a JSON column updated in part, the
// changes to apply in order to the column's value instead of the value.
type JSONDiff struct {
	Op JSONDiffOp
	// Path is the MySQL JSON path as logged ("$.a[2]"); it never is "$".
	Path string
	// Value is the new value as JSON text; empty for JSONRemove.
	Value string
}

// JSONDiffOp is the operation of a JSONDiff, with MySQL's codes.
type JSONDiffOp uint8

// JSON diff operations. JSONReplace replaces the value at an existing
// path; JSONInsert adds an object member that does not exist or inserts
// into an array at the path's index; JSONRemove removes the value at an
// existing path.
const (
	JSONReplace JSONDiffOp = 0
	JSONInsert  JSONDiffOp = 1
	JSONRemove  JSONDiffOp = 2
)

// Row event flags.
const (
	RowsFlagStmtEnd             = 1
	RowsFlagNoForeignKeyChecks  = 2
	RowsFlagRelaxedUniqueChecks = 4
)
