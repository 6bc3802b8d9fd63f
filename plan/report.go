package plan

import (
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Report is what Run found. Its JSON encoding is the command's --json
// output.
type Report struct {
	// Files are the input files, in order; Servers the servers that wrote
	// the transactions read. Source is the server read from, when the
	// binlogs were read with the replication protocol: Files are then the
	// source's files the transactions were in.
	Source  string       `json:"source,omitempty"`
	Files   []FileInfo   `json:"files"`
	Servers []ServerInfo `json:"servers"`
	// Contents is what the files hold from the start position on.
	Contents Contents `json:"contents"`
	// Candidates are the stop-point candidates: every DDL and every
	// destructive event, in binlog order.
	Candidates []Candidate `json:"stop_candidates"`
	// Replay is what a replay with the same options would do, and
	// Parallelism what its transactions allow.
	Replay      Prediction  `json:"replay"`
	Parallelism Parallelism `json:"parallelism"`
	// Problems are what a replay could not handle, or not exactly.
	Problems Problems `json:"problems"`
}

// FileInfo is one input file: its path as given, base name and size (read
// from a source server: no path, and the size of its transactions read).
type FileInfo struct {
	Path  string `json:"path"`
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

// ServerInfo is a server that wrote some of the files, from their format
// description events: flavor ("mysql", "mariadb"), version string, and the
// files holding its transactions.
type ServerInfo struct {
	Flavor  string   `json:"flavor"`
	Version string   `json:"version"`
	Files   []string `json:"files"`
}

// Contents counts what the files hold from the start position on,
// whatever the stop and filter options.
type Contents struct {
	Transactions uint64            `json:"transactions"`
	ByKind       map[string]uint64 `json:"by_kind"`
	// Bytes is the size of the transactions; BytesRead and EventsRead
	// what the reader read (headers and skipped events included).
	Bytes      int64  `json:"bytes"`
	BytesRead  uint64 `json:"bytes_read"`
	EventsRead uint64 `json:"events_read"`
	// Span is where the transactions start and end, in the binlogs and
	// in time.
	Span
	// GTIDSummary is their GTIDs.
	GTIDSummary
	Tables    []TableCount `json:"tables"`
	RowEvents OpCounts     `json:"row_events"`
	Rows      OpCounts     `json:"rows"`
	// Statements counts statement-format DML queries; DDL counts DDL
	// statements.
	Statements uint64 `json:"statements"`
	DDL        uint64 `json:"ddl"`
	// CompressedTxns counts the transactions that came out of MySQL 8
	// compressed transaction payloads, and CompressedEvents their events.
	CompressedTxns   uint64 `json:"compressed_txns,omitempty"`
	CompressedEvents uint64 `json:"compressed_events,omitempty"`
}

// Span is where a plan's transactions start and end, in the binlogs and in
// time (see Contents).
type Span struct {
	// First and Last are the first and last transactions in binlog order;
	// Earliest and Latest the smallest and largest commit times (binlog
	// order is not always commit-time order).
	First    *txn.Ref  `json:"first,omitempty"`
	Last     *txn.Ref  `json:"last,omitempty"`
	Earliest time.Time `json:"earliest_commit"`
	Latest   time.Time `json:"latest_commit"`
}

// GTIDSummary is the GTIDs of a plan's transactions (see Contents).
type GTIDSummary struct {
	// GTIDs are the GTIDs seen per stream (MySQL source, MariaDB
	// domain-server), and GTIDSet all of them as a set (for MariaDB, the
	// highest sequence number per domain, as gtid_slave_pos).
	GTIDs   []GTIDRange `json:"gtids,omitempty"`
	GTIDSet string      `json:"gtid_set,omitempty"`
	NoGTID  uint64      `json:"transactions_without_gtid"`
}

// GTIDRange is what one GTID stream contributed.
type GTIDRange struct {
	// Stream is the MySQL source ("uuid[:tag]") or the MariaDB
	// "domain-server".
	Stream string `json:"stream"`
	First  string `json:"first"`
	Last   string `json:"last"`
	Count  uint64 `json:"count"`
	// MinSeq and MaxSeq bound the sequence numbers; Contiguous is true
	// when every number between them was seen exactly once.
	MinSeq     uint64 `json:"min_seq"`
	MaxSeq     uint64 `json:"max_seq"`
	Contiguous bool   `json:"contiguous"`
}

// OpCounts counts by row operation. For updates a row is a before/after
// pair.
type OpCounts struct {
	Insert uint64 `json:"insert"`
	Update uint64 `json:"update"`
	Delete uint64 `json:"delete"`
}

// Total returns the sum of the three counts.
func (c OpCounts) Total() uint64 { return c.Insert + c.Update + c.Delete }

func (c *OpCounts) add(op txn.Op, n uint64) {
	switch op {
	case txn.OpInsert:
		c.Insert += n
	case txn.OpUpdate:
		c.Update += n
	case txn.OpDelete:
		c.Delete += n
	}
}

// TableCount is the row events of one table.
type TableCount struct {
	Table  string   `json:"table"`
	Events OpCounts `json:"events"`
	Rows   OpCounts `json:"rows"`
	// Minimal counts row events whose images lack some columns
	// (binlog_row_image MINIMAL or NOBLOB); Undecoded those whose rows
	// were not decoded (their rows are not counted).
	Minimal   uint64 `json:"minimal_image_events,omitempty"`
	Undecoded uint64 `json:"undecoded_events,omitempty"`
	// PrimaryKey is true when a table map of the table gave its primary key.
	PrimaryKey bool `json:"primary_key_logged"`
}

// Candidate is a transaction the operator may want the replay to stop
// just before: a DDL or a destructive event.
type Candidate struct {
	txn.Ref
	// Kind is "ddl" or the destructive kind: "drop-table",
	// "drop-database", "truncate", "alter-drop", "big-delete",
	// "big-update", "delete-without-where", "update-without-where".
	Kind        string `json:"kind"`
	Destructive bool   `json:"destructive"`
	// Detail is the statement (shortened) or the row counts.
	Detail string `json:"detail"`
	Schema string `json:"schema,omitempty"`
	// StopPosition, StopDatetime and StopBeforeGTID are the values of the
	// replay flags that stop just before this transaction ("" where no
	// such flag can); Flags is them as a command line.
	StopPosition   string   `json:"stop_position"`
	StopDatetime   string   `json:"stop_datetime"`
	StopBeforeGTID string   `json:"stop_before_gtid,omitempty"`
	Flags          []string `json:"flags"`
	// Warnings say where a flag would stop earlier than here.
	Warnings []string `json:"warnings,omitempty"`
	// Undo, for a destructive transaction that binlog-replay undo can
	// reverse as far as the binlog tells, are the flags that select it
	// for undo (its start and end), and UndoGTIDs, where it has a MariaDB
	// GTID, the flag that selects it by GTID (--gtids d-s-n..n);
	// UndoRefusal otherwise says why it cannot be undone.
	Undo        []string `json:"undo,omitempty"`
	UndoGTIDs   []string `json:"undo_gtids,omitempty"`
	UndoRefusal string   `json:"undo_refusal,omitempty"`
	// Applied says whether the predicted replay applies this transaction
	// (false: it is skipped, or after the stop point).
	Applied bool `json:"applied_by_replay"`
}

// Prediction is what a replay with the same start, stop and filter
// options would do with the files.
type Prediction struct {
	// Applied counts the transactions it applies, Bytes their size;
	// Skipped those the GTID filters pass over.
	Applied uint64   `json:"applied"`
	Skipped uint64   `json:"skipped"`
	Bytes   int64    `json:"bytes"`
	First   *txn.Ref `json:"first,omitempty"`
	Last    *txn.Ref `json:"last,omitempty"`
	// StoppedBefore is the transaction a stop option stops before, and
	// StopReason the option; both empty when it reads to the end, but
	// for StopReason when it reads to a --stop-position past the last
	// transaction (reached: the replay exits 0).
	StoppedBefore *txn.Ref `json:"stopped_before,omitempty"`
	StopReason    string   `json:"stop_reason,omitempty"`
	// StopNotReached, when stop options were given and the binlogs end
	// before any is met, names them: the replay would apply everything
	// and exit with status 3.
	StopNotReached string `json:"stop_not_reached,omitempty"`
	// Fails is true when the replay would hit the reader's error
	// (Problems.ReadError) before its stop point.
	Fails bool `json:"fails"`
	// Refused counts the transactions before the stop point that
	// --rewrite-db cannot rename with certainty (Problems.RewriteRefused):
	// reading files, the replay refuses to start, naming them; reading a
	// source server, it stops before the first. They are not counted in
	// Applied.
	Refused uint64 `json:"refused_by_rewrite_db,omitempty"`
}

// Parallelism is what the dependencies between the applied transactions
// allow, under the keying the package comment describes.
type Parallelism struct {
	Transactions int `json:"transactions"`
	// Keys says how rows were keyed; WholeTables lists the tables whose
	// writes were keyed by the whole table, with why.
	Keys        string       `json:"keys"`
	WholeTables []WholeTable `json:"whole_tables,omitempty"`
	RowTables   int          `json:"row_keyed_tables"`
	// Barriers counts transactions that run alone, by reason.
	Barriers       uint64            `json:"barriers"`
	BarrierReasons map[string]uint64 `json:"barrier_reasons,omitempty"`
	BarrierShare   float64           `json:"barrier_share"`
	// Overlapping counts transactions that may start before their
	// predecessor has committed.
	Overlapping int `json:"overlapping"`
	// CriticalPath is the longest chain of dependencies (commit order
	// included) under each cost model.
	CriticalPath []PathLength `json:"critical_path"`
	// SpeedUp is the simulated bound per worker count.
	SpeedUp []SpeedUp `json:"speed_up"`
	// HotKeys are the keys touched by most transactions. They are exact
	// unless HotKeysApproximate (too many distinct keys were seen, and
	// rarely touched ones were forgotten: counts are then lower bounds).
	HotKeys            []HotKey `json:"hot_keys"`
	HotKeysApproximate bool     `json:"hot_keys_approximate,omitempty"`
}

// WholeTable is a table whose writes were keyed by the whole table.
type WholeTable struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
}

// PathLength is the critical path under one cost model: "txn" (each
// transaction costs 1), "row" (each row, at least 1 per transaction),
// "byte" (its size in the binlog).
type PathLength struct {
	Cost   string  `json:"cost"`
	Serial float64 `json:"serial"`
	Path   float64 `json:"path"`
	// Share is Path / Serial.
	Share float64 `json:"share"`
}

// SpeedUp is the speed-up bound with Workers workers under each cost model.
type SpeedUp struct {
	Workers int     `json:"workers"`
	ByTxn   float64 `json:"by_txn"`
	ByRow   float64 `json:"by_row"`
	ByByte  float64 `json:"by_byte"`
}

// HotKey is a key and how many transactions touched it.
type HotKey struct {
	Key  string `json:"key"`
	Txns uint64 `json:"txns"`
}

// Problems are what a replay could not handle, or not exactly.
type Problems struct {
	ReadError *ReadError `json:"read_error,omitempty"`
	// MinimalEvents counts row events with incomplete images, and
	// UndecodedEvents row events not decoded (see TableCount).
	MinimalEvents   uint64 `json:"minimal_image_events,omitempty"`
	UndecodedEvents uint64 `json:"undecoded_events,omitempty"`
	// SkippedEvents counts by type the events the reader skipped (ignorable
	// events, or unknown ones with SkipUnknown).
	SkippedEvents map[string]uint64 `json:"skipped_events,omitempty"`
	// CutByCrash are the transactions the replay leaves out because a
	// crash of the source cut its binlog file inside them and the server
	// restarted, rolling them back (binlog.CutTxn).
	CutByCrash []binlog.CutTxn `json:"cut_by_crash,omitempty"`
	// RewriteRefused are the transactions --rewrite-db cannot rename with
	// certainty (the first 100; Prediction.Refused counts them all).
	RewriteRefused []RewriteRefusal `json:"rewrite_refused,omitempty"`
	// Refusal says why the replay refuses its start, stop or skip options
	// in these binlogs (reading files, before anything is applied): a stop
	// met on a transaction --start-gtid holds (filter.StopHeld), a
	// domain's sequence numbers out of order for --start-gtid or
	// --stop-before-gtid (filter.StartOrderError, replay.StopOrderError),
	// a MariaDB position in --exclude-gtids that skips more than its own
	// transaction (filter.ExcludeWide).
	Refusal string `json:"refusal,omitempty"`
	// TempBeforeStart, when set, names the statement at which the replay
	// stops: it uses a temporary table its session created before the
	// start point (see temptables.Tables.Apply).
	TempBeforeStart string `json:"temp_table_before_start,omitempty"`
	// TempUnsure, when set, names the disconnect drop at which the
	// replay stops: which sessions' temporary tables it ended cannot be
	// told (see txn.EndDisconnected).
	TempUnsure string `json:"temp_table_drop_unsure,omitempty"`
	// HotBase, when set, says why the replay stops at a transaction whose
	// non-transactional changes the hot base may already hold
	// (startcheck.HotBaseError).
	HotBase string `json:"hot_base,omitempty"`
}

// RewriteRefusal is a transaction the replay's --rewrite-db refuses.
type RewriteRefusal struct {
	Txn txn.Ref `json:"txn"`
	// Message says why, naming the event and the statement.
	Message string `json:"message"`
	// SkipGTIDs is the --exclude-gtids value that skips it alone, "" when
	// it has no GTID.
	SkipGTIDs string `json:"skip_gtids,omitempty"`
}

// ReadError is the error that stopped the reader.
type ReadError struct {
	Message   string `json:"message"`
	File      string `json:"file,omitempty"`
	Offset    uint64 `json:"offset,omitempty"`
	EventType string `json:"event_type,omitempty"`
	// Truncated is true when the last file ends inside an event or a
	// transaction (a crash, or a binlog still being written); LastEnd is
	// then the end of the last complete transaction.
	Truncated bool          `json:"truncated"`
	LastEnd   *txn.Position `json:"last_end,omitempty"`
}
