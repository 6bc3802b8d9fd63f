// Package txn holds binlog-replay's own representation of what a binary log
// contains: transactions made of events, with their positions, GTIDs and
// session context. It is the bottom of the project: it imports no outside
// library, so that only the binlog package knows how the bytes were parsed.
//
// A Txn is the unit that is applied atomically on the target. Row events keep
// their raw bytes (for passthrough with a BINLOG statement) next to their
// decoded form (for write sets and SQL generation).
package txn

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Flavor is the kind of server that wrote a binary log.
type Flavor uint8

// Flavors.
const (
	FlavorUnknown Flavor = iota
	FlavorMySQL
	FlavorMariaDB
)

// String returns "mysql", "mariadb" or "unknown".
func (f Flavor) String() string {
	switch f {
	case FlavorMySQL:
		return "mysql"
	case FlavorMariaDB:
		return "mariadb"
	}
	return "unknown"
}

// Position is a place in a binlog file: the base name of the file and a byte
// offset in it. For an event it is the offset of its first byte; for a
// transaction's end it is the offset just past its last event, which is where
// a resumed replay starts reading.
type Position struct {
	File   string `json:"file"`
	Offset uint64 `json:"offset"`
}

// String formats p as FILE:OFFSET.
func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Offset) }

// ParsePosition parses FILE:POS as String writes it.
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Position{}, fmt.Errorf("parse position %q: want FILE:POS", s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("parse position %q: %w", s, err)
	}
	return Position{File: s[:i], Offset: off}, nil
}

// IsZero reports whether p is unset.
func (p Position) IsZero() bool { return p.File == "" && p.Offset == 0 }

// Named returns p followed by gtid, as messages name a transaction:
// "mysql-bin.000002:1234 (GTID 0-1-5)", or p alone when gtid is "".
func (p Position) Named(gtid string) string {
	if gtid == "" {
		return p.String()
	}
	return p.String() + " (GTID " + gtid + ")"
}

// Kind says what a transaction holds, and so how it may be applied.
type Kind uint8

// Transaction kinds.
const (
	// KindRows is BEGIN, table maps and row events, COMMIT/XID: it is fully
	// described by its row images and may run in parallel with others.
	KindRows Kind = iota + 1
	// KindStatement is a transaction with statement-format DML (possibly
	// mixed with row events): it runs alone, as a barrier.
	KindStatement
	// KindDDL is a single query outside BEGIN/COMMIT (DDL or an
	// auto-committed statement): it runs alone and commits implicitly.
	KindDDL
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindRows:
		return "rows"
	case KindStatement:
		return "statement"
	case KindDDL:
		return "ddl"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Txn is one source transaction: everything between its GTID (or BEGIN) and
// its commit, or one standalone query.
type Txn struct {
	// Seq numbers transactions from 1 in the order the reader produced them.
	Seq uint64
	// Kind says how the transaction may be applied.
	Kind Kind
	// GTID is the transaction's global id, or the zero GTID.
	GTID GTID
	// Start is the position of its first event (GTID or BEGIN event).
	Start Position
	// End is the position just past its last event: where to resume.
	End Position
	// Time is the commit time as the source logged it (the timestamp of the
	// commit event, or of the query for KindDDL).
	Time time.Time
	// ServerID is the id of the server that originally executed it.
	ServerID uint32
	// Begin is the BEGIN query (its status variables are the session context
	// of the row events), or for KindDDL the query itself. Nil where a
	// transaction has no BEGIN (MySQL XA, some MariaDB GTID groups).
	Begin *Query
	// Events are the events between BEGIN and the commit, in order, without
	// GTID, BEGIN, COMMIT or XID events. For KindDDL it holds the query.
	Events []Event
	// Format is the format description event in force for this transaction.
	Format *Format
	// Bytes is the size of all its events in the binlog.
	Bytes int64
	// NonTransactional is set when the binlog says the transaction changed
	// a table that ROLLBACK cannot undo (MyISAM, Aria, MEMORY...): it ends
	// with a COMMIT query instead of an XID event, or, from MariaDB, its
	// GTID event lacks the FL_TRANSACTIONAL flag. Its writes survive a
	// rollback on the target too, so it must never be applied twice.
	NonTransactional bool
	// XID is set when the group ended with an XID event: a transactional
	// commit. With NonTransactional, the transaction changed both kinds
	// of tables, and its non-transactional changes were made before its
	// commit was logged (see replay.HotBaseError).
	XID bool
	// ServerRestarted is set on the first transaction read after its
	// server started again (a file whose format description has a create
	// time, after other files were read): the temporary tables its
	// sessions held before are gone, as a replica drops them there.
	ServerRestarted bool
	// Part numbers the pieces of a transaction too large to hold whole,
	// which a reader hands out as it reads them (binlog.Options.
	// StreamAbove): 0 for a whole transaction, 1, 2... for the pieces of a
	// streamed one, the last with Final set. Every piece has the
	// transaction's Seq, GTID, Start and Format; End, Time,
	// NonTransactional, XID and RolledBack are set on the last one only, and
	// Bytes counts each piece's own bytes.
	Part  int
	Final bool
	// MidStatement is set on a piece (Part > 1) that begins inside a
	// statement begun in the piece before: its first events are that
	// statement's table maps, repeated.
	MidStatement bool
	// RolledBack is set for a group that ends with ROLLBACK: the source
	// rolled it back after it had changed non-transactional tables, whose
	// changes stayed (and so were logged). It is applied the same way:
	// its events, then ROLLBACK.
	RolledBack bool
}

// Format is the format description event of a binlog file.
type Format struct {
	Flavor        Flavor
	ServerVersion string
	// Checksum is true when every event ends with a CRC32 checksum.
	Checksum bool
	// Flags2Written are the MariaDB bits of a query event's flags2
	// (Flags2NoCheckConstraintChecks and the others after it) that this
	// server writes: a bit in it that is clear says the source session
	// had the variable at its default; a bit outside it says nothing of
	// the source session.
	Flags2Written uint32
	// Raw is the whole event as it is in the file, for BINLOG statements.
	Raw []byte
	// Pos is where the event is.
	Pos Position
}

// Ref identifies a transaction in reports: its number in the order read,
// where it starts and ends, its GTID and its commit time.
type Ref struct {
	Seq   uint64    `json:"seq"`
	Start Position  `json:"start"`
	End   Position  `json:"end"`
	GTID  string    `json:"gtid,omitempty"`
	Time  time.Time `json:"time"`
}

// Ref returns the reference of t.
func (t *Txn) Ref() *Ref {
	return &Ref{Seq: t.Seq, Start: t.Start, End: t.End, GTID: t.GTID.String(), Time: t.Time}
}
