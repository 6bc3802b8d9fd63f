package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/compact"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/adapt"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The limit is the target applying the input's row events with nothing
// in front of it: the statements binlog-replay sends, grouped as its
// defaults group them (consecutive row transactions share a commit, up to
// GroupTxns transactions and GroupBytes bytes; every other transaction is
// committed alone), built before the clock starts and sent by one session
// back to back. It bounds what any one-session applier can reach on this
// target: binlog-replay with one worker does the same round trips, plus
// reading, decoding and scheduling, plus one checkpoint row per commit.
// Each group is compacted as the replay's defaults compact it
// (internal/compact), in groups of the size the adaptive replay starts at:
// where the replay's groups grow larger on hot rows, it compacts more, and
// can pass the limit.

// limitPacket is one round trip of the limit's session.
type limitPacket struct {
	sql string
	// expectErr is the error the source logged for the statement, which
	// the target must return too (0: none).
	expectErr uint16
}

// limitPackets returns the packets of the limit for a target whose
// max_allowed_packet is maxPacket, prepared once per input and packet
// size.
func (in *input) limitPackets(ctx context.Context, maxPacket int, tables compact.TableSource) ([]limitPacket, error) {
	if in.limit != nil && in.limitMax == maxPacket {
		return in.limit, nil
	}
	packets, err := prepareLimit(ctx, in.files, in.start, maxPacket, tables)
	if err != nil {
		return nil, err
	}
	in.limit, in.limitMax = packets, maxPacket
	return packets, nil
}

// prepareLimit reads the binlogs from start and returns the limit's
// packets: each group's BINLOG statements and SQL, then its COMMIT. With
// the replay's default compaction, tables gives the target's table
// definitions (nil: no compaction).
func prepareLimit(ctx context.Context, files []string, start txn.Position, maxPacket int, tables compact.TableSource) ([]limitPacket, error) {
	defaults := replay.DefaultOptions()
	var compactor *compact.Compactor
	if defaults.Apply.Compact && tables != nil {
		compactor = compact.New(tables)
	}
	r, err := binlog.NewReader(files, binlog.Options{Start: start, DecodeRows: compactor != nil})
	if err != nil {
		return nil, fmt.Errorf("prepare the limit: %w", err)
	}
	defer r.Close()
	groupMax := defaults.Apply.GroupTxns
	if groupMax == 0 {
		// The replay chooses the size as it goes: the limit uses the
		// size it starts at.
		groupMax = adapt.BaseGroupTxns
	}
	p := &limitPacker{limit: max(maxPacket/2, 64<<10)}
	var (
		txns       []*txn.Txn
		groupBytes int64
	)
	commit := func() error {
		if len(txns) > 0 {
			if compactor != nil && txns[0].Kind == txn.KindRows {
				txns = compactor.Group(ctx, txns)
			}
			var group []sqlgen.Stmt
			for _, t := range txns {
				stmts, err := p.statements(ctx, t)
				if err != nil {
					return err
				}
				group = append(group, stmts...)
			}
			p.add(group)
			p.packets = append(p.packets, limitPacket{sql: "COMMIT"})
		}
		txns, groupBytes = nil, 0
		return nil
	}
	for {
		t, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("prepare the limit: %w", err)
		}
		alone := t.Kind != txn.KindRows
		if alone || len(txns) >= groupMax || groupBytes+t.Bytes > defaults.Apply.GroupBytes {
			if err := commit(); err != nil {
				return nil, err
			}
		}
		txns, groupBytes = append(txns, t), groupBytes+t.Bytes
		if alone {
			if err := commit(); err != nil {
				return nil, err
			}
		}
	}
	if err := commit(); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	return p.packets, nil
}

// limitPacker turns statements into packets as binlog-replay's sessions
// send them: consecutive row events in one BINLOG statement, consecutive
// SQL statements in one multi-statement packet, each within limit bytes.
type limitPacker struct {
	limit   int
	format  *txn.Format // the format description the session has
	packets []limitPacket
	err     error
}

// statements returns the statements that apply t, after the format
// description its row events need when the session does not have it.
func (p *limitPacker) statements(ctx context.Context, t *txn.Txn) ([]sqlgen.Stmt, error) {
	var stmts []sqlgen.Stmt
	if t.Format != nil && t.Format != p.format && hasRows(t) {
		stmts = append(stmts, sqlgen.FormatStatement(t.Format))
		p.format = t.Format
	}
	var gen *sqlgen.Generator // passthrough only, as on a MariaDB target from a MariaDB source
	body, err := gen.Body(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("prepare the limit: transaction at %s: %w", t.Start, err)
	}
	for _, s := range body {
		if s.LoadName != "" {
			return nil, fmt.Errorf("prepare the limit: transaction at %s: LOAD DATA is not supported by the limit", t.Start)
		}
	}
	return append(stmts, body...), nil
}

// hasRows reports whether t holds row events.
func hasRows(t *txn.Txn) bool {
	for i := range t.Events {
		if t.Events[i].Kind == txn.EventRows {
			return true
		}
	}
	return false
}

// add appends the packets of stmts.
func (p *limitPacker) add(stmts []sqlgen.Stmt) {
	var (
		events []*txn.Event
		batch  []string
		size   int
	)
	flush := func() {
		switch {
		case len(events) > 0:
			p.packets = append(p.packets, limitPacket{sql: sqlgen.BinlogStatement(events)})
		case len(batch) > 0:
			p.packets = append(p.packets, limitPacket{sql: strings.Join(batch, ";\n")})
		}
		events, batch, size = nil, nil, 0
	}
	for _, s := range stmts {
		n := len(s.SQL) + 2
		if s.Events != nil {
			n = sqlgen.BinlogSize(s.Events)
		}
		if (s.Events != nil) != (len(events) > 0) || s.Alone || s.ExpectErr != 0 || size+n > p.limit {
			flush()
		}
		switch {
		case s.Events != nil && n > p.limit && p.err == nil:
			p.err = fmt.Errorf("prepare the limit: a source statement of %d bytes of BINLOG, over half of the target's max_allowed_packet", n)
		case s.Events != nil:
			events = append(events, s.Events...)
			size += n
		case s.Alone || s.ExpectErr != 0:
			p.packets = append(p.packets, limitPacket{sql: s.SQL, expectErr: s.ExpectErr})
		default:
			batch = append(batch, s.SQL)
			size += n
		}
	}
	flush()
}

// limitDSN returns the DSN of the limit's session: the target's socket or
// TCP address, statements in multi-statement packets.
func limitDSN(network, addr string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", network, addr
	cfg.MultiStatements = true
	cfg.MaxAllowedPacket = 0 // the server's
	return cfg.FormatDSN()
}

// applyLimit sends packets on one session of db with autocommit off, each
// waiting for the one before, and checks each statement's outcome.
func applyLimit(ctx context.Context, conn *sql.Conn, packets []limitPacket) error {
	for i, pk := range packets {
		_, err := conn.ExecContext(ctx, pk.sql)
		var me *mysql.MySQLError
		switch {
		case pk.expectErr == 0 && err != nil:
			return fmt.Errorf("limit: packet %d of %d: %w", i+1, len(packets), err)
		case pk.expectErr != 0 && !(errors.As(err, &me) && me.Number == pk.expectErr):
			return fmt.Errorf("limit: packet %d of %d: the source logged error %d for it, the target returned %v",
				i+1, len(packets), pk.expectErr, err)
		}
	}
	return nil
}
