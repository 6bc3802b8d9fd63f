package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Binlogs is what the transactions a replay would apply hold, as the
// checks and the estimate need it: sizes, the largest statement the
// replay must send in one packet, what they write where, and the first
// row transactions as a sample for the apply probe.
type Binlogs struct {
	// Transactions and Bytes count what the replay would apply, by kind.
	Transactions uint64 `json:"transactions"`
	Bytes        int64  `json:"bytes"`
	RowTxns      uint64 `json:"row_txns"`
	StmtTxns     uint64 `json:"statement_txns"`
	DDLTxns      uint64 `json:"ddl_txns"`
	// RowBytes are the bytes of the row transactions and events.
	RowBytes
	// LargestPacket is the largest statement the replay must send whole:
	// a row event with its statement's table maps in a BINLOG statement
	// (the replay splits a source statement between row events, never
	// inside one), or a statement-format query.
	LargestPacket Packet `json:"largest_packet"`
	// LargestTxn is the largest transaction, in binlog bytes.
	LargestTxn Packet `json:"largest_txn"`
	// Tables are the tables the row events write, with the operations;
	// DDLSchemas the default databases of the DDL and statements.
	Tables     []TableWrites `json:"tables"`
	DDLSchemas []string      `json:"ddl_schemas,omitempty"`
	// ReadSeconds is how long reading and decoding them all and computing
	// their write sets took here (plan's analysis): the replay's own work.
	ReadSeconds float64 `json:"read_seconds"`
	// ReadError is what stopped the reading early, if anything.
	ReadError string `json:"read_error,omitempty"`

	sample      []*txn.Txn
	sampleBytes int64
}

// RowBytes are the bytes of the row transactions of the binlogs, and of
// their row events by operation (see Binlogs).
type RowBytes struct {
	// RowTxnBytes is the size of the row transactions.
	RowTxnBytes int64 `json:"row_txn_bytes"`
	// InsertBytes, UpdateBytes and DeleteBytes are the bytes of the row
	// events by operation (the growth estimate's input).
	InsertBytes int64 `json:"insert_event_bytes"`
	UpdateBytes int64 `json:"update_event_bytes"`
	DeleteBytes int64 `json:"delete_event_bytes"`
}

// Packet is a size and where it was met.
type Packet struct {
	Bytes int64  `json:"bytes"`
	What  string `json:"what,omitempty"`
	At    string `json:"at,omitempty"`
}

// TableWrites is one table the binlogs write and the row operations on it.
type TableWrites struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Insert bool   `json:"insert"`
	Update bool   `json:"update"`
	Delete bool   `json:"delete"`
}

// Selection is what to read: the binlog files and the replay's start,
// stop and include options (as replay.Options has them).
type Selection struct {
	Files             []string
	Start             txn.Position
	Filter            filter.Options
	SkipUnknown       bool
	NoContinuityCheck bool
	// RewriteDB are the replay's --rewrite-db rules: the tables counted
	// (privileges, the probe's scratch copies) are the renamed ones, and a
	// transaction the replay would refuse stops the reading, as it stops
	// the replay.
	RewriteDB rewrite.Rules
}

// sampleLimits bound the transactions kept for the apply probe.
type sampleLimits struct {
	txns  int
	bytes int64
	// maxTxn leaves out a transaction larger than this (it would be
	// applied in pieces by the replay, and dominate a small sample).
	maxTxn int64
}

// streamAbove is the size above which a transaction is read in pieces,
// so that reading a huge one holds only a piece.
const streamAbove = 16 << 20

// readBinlogs reads the selection once, from its start to its stop point,
// decoding the row images of the first transactions only (the sample).
func readBinlogs(ctx context.Context, sel Selection, lim sampleLimits) (*Binlogs, error) {
	var skipDecode atomic.Bool
	rd, err := binlog.NewReader(sel.Files, binlog.Options{Start: sel.Start, DecodeRows: true, SkipDecode: &skipDecode,
		DecodeWorkers: 1, SkipUnknown: sel.SkipUnknown, NoContinuityCheck: sel.NoContinuityCheck, StreamAbove: streamAbove})
	if err != nil {
		return nil, fmt.Errorf("read the binlogs: %w", err)
	}
	defer rd.Close()
	b := &Binlogs{}
	f := filter.New(sel.Filter)
	include := f.Include
	if len(sel.RewriteDB) > 0 || f.Filtering() {
		// As the replay: the rewriter applies the filters too.
		rw, err := rewrite.New(rewrite.Config{Rules: sel.RewriteDB, Filter: f})
		if err != nil {
			return nil, err
		}
		include = rw.Apply
	}
	tables := map[string]*TableWrites{}
	ddl := map[string]bool{}
	var txnBytes int64
	for {
		t, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			b.ReadError = err.Error()
			break
		}
		if f.StopAt(t) != "" {
			break
		}
		if f.Skips(t) {
			continue
		}
		if err := include(t); err != nil {
			b.ReadError = err.Error()
			break
		}
		if t.Part <= 1 {
			txnBytes = 0
			b.Transactions++
			switch t.Kind {
			case txn.KindRows:
				b.RowTxns++
			case txn.KindStatement:
				b.StmtTxns++
			case txn.KindDDL:
				b.DDLTxns++
			}
		}
		txnBytes += t.Bytes
		b.Bytes += t.Bytes
		if t.Kind == txn.KindRows {
			b.RowTxnBytes += t.Bytes
		}
		if txnBytes > b.LargestTxn.Bytes {
			b.LargestTxn = Packet{Bytes: txnBytes, What: describeTxn(t), At: t.Start.String()}
		}
		b.count(t, tables, ddl)
		if t.Part == 0 && len(b.sample) < lim.txns && b.sampleBytes < lim.bytes {
			if t.Kind == txn.KindRows && t.Bytes <= lim.maxTxn && decoded(t) {
				b.sample = append(b.sample, t)
				b.sampleBytes += t.Bytes
			}
		}
		skipDecode.Store(len(b.sample) >= lim.txns || b.sampleBytes >= lim.bytes)
	}
	for _, tw := range tables {
		b.Tables = append(b.Tables, *tw)
	}
	sort.Slice(b.Tables, func(i, j int) bool {
		return b.Tables[i].Schema+"."+b.Tables[i].Table < b.Tables[j].Schema+"."+b.Tables[j].Table
	})
	for s := range ddl {
		b.DDLSchemas = append(b.DDLSchemas, s)
	}
	sort.Strings(b.DDLSchemas)
	return b, nil
}

// count adds t's events to the byte counts, the tables written and the
// largest packet.
func (b *Binlogs) count(t *txn.Txn, tables map[string]*TableWrites, ddl map[string]bool) {
	var maps []*txn.Event // table maps of the current source statement
	stmtEnded := true
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventTableMap:
			if stmtEnded {
				maps, stmtEnded = maps[:0], false
			}
			maps = append(maps, e)
		case txn.EventRows:
			n := int64(len(e.Raw))
			var tw *TableWrites
			if r := e.Rows; r != nil && r.Table != nil {
				key := r.Table.Schema + "." + r.Table.Table
				if tw = tables[key]; tw == nil {
					tw = &TableWrites{Schema: r.Table.Schema, Table: r.Table.Table}
					tables[key] = tw
				}
			}
			if e.Rows != nil {
				switch e.Rows.Op {
				case txn.OpInsert:
					b.InsertBytes += n
					if tw != nil {
						tw.Insert = true
					}
				case txn.OpUpdate:
					b.UpdateBytes += n
					if tw != nil {
						tw.Update = true
					}
				case txn.OpDelete:
					b.DeleteBytes += n
					if tw != nil {
						tw.Delete = true
					}
				}
			}
			size := int64(sqlgen.BinlogSize(append(maps[:len(maps):len(maps)], e)))
			if size > b.LargestPacket.Bytes {
				b.LargestPacket = Packet{Bytes: size, What: e.TypeName + " with its table maps, as a BINLOG statement", At: e.Pos.String()}
			}
			if e.Rows == nil || e.Rows.Flags&txn.RowsFlagStmtEnd != 0 {
				stmtEnded = true
			}
		case txn.EventQuery:
			if q := e.Query; q != nil {
				if t.Kind != txn.KindRows {
					ddl[q.Schema] = true
				}
				// The statement, with the session context sent before it
				// in the same packet (a few hundred bytes at most).
				size := int64(len(q.SQL)) + 512
				if size > b.LargestPacket.Bytes {
					b.LargestPacket = Packet{Bytes: size, What: "a statement-format query", At: e.Pos.String()}
				}
			}
		}
	}
}

// decoded reports whether every row event of t has its images decoded.
func decoded(t *txn.Txn) bool {
	for i := range t.Events {
		if e := &t.Events[i]; e.Kind == txn.EventRows && (e.Rows == nil || !e.Rows.Decoded) {
			return false
		}
	}
	return true
}

// describeTxn names t for messages.
func describeTxn(t *txn.Txn) string {
	s := fmt.Sprintf("transaction #%d (%s)", t.Seq, t.Kind)
	if !t.GTID.IsZero() {
		s += " GTID " + t.GTID.String()
	}
	return s
}
