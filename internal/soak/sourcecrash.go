package soak

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"
)

// crashSource crashes the source while it writes a transaction to its
// binlog (FeatSourceCrash): it runs the transaction w.Crash, kills the
// source, cuts the binlog file inside that transaction as c says (as a
// crash while the server writes it leaves the file: the server had not
// committed it, and rolls it back as it restarts), restarts the source
// and runs w.AfterCrash. When the transaction's commit rotated the binlog
// (a small max_binlog_size), the file holding it was closed: the crash
// then comes after it, nothing cut. The kill comes after the
// transaction committed, so the source holds it; the replay's oracle is
// mariadb-binlog's reading of the binlogs, not the source. With
// c.Shadow, a session holding a temporary table tc_shadow is open at the
// kill, and after the restart a session given its thread id creates and
// writes a permanent tc_shadow.
func (src *Source) crashSource(ctx context.Context, srv *sandbox.Server, c *seedgen.CrashPlan, w *seedgen.Workload) error {
	dbh, err := srv.Open(ctx, seedgen.DB)
	if err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	defer dbh.Close()
	var shadow *sql.Conn
	var thread uint64
	if c.Shadow {
		if shadow, thread, err = replaytest.ConnWithThread(ctx, dbh, 20, false); err != nil {
			return fmt.Errorf("source crash: %w", err)
		}
		defer shadow.Close()
		if err := execConn(ctx, shadow, "SET SESSION binlog_format = 'STATEMENT'",
			"CREATE TEMPORARY TABLE tc_shadow (id INT PRIMARY KEY, v INT)", "INSERT INTO tc_shadow VALUES (1, 1), (2, 2)"); err != nil {
			return fmt.Errorf("source crash: the session lost with a temporary table: %w", err)
		}
	}
	file, start, err := masterStatus(ctx, dbh)
	if err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	if err := replaytest.ExecAll(ctx, dbh, w.Crash...); err != nil {
		return fmt.Errorf("source crash: the transaction to cut: %w", err)
	}
	after, end, err := masterStatus(ctx, dbh)
	if err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	// Killed with the connections open: a session closing logs the drop
	// of its temporary tables.
	if err := srv.Kill(); err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	if after == file && c.At > 0 {
		files, err := srv.BinlogFiles()
		if err != nil || len(files) == 0 {
			return fmt.Errorf("source crash: binlog files %v: %v", files, err)
		}
		path := filepath.Join(filepath.Dir(files[len(files)-1]), file)
		cut, err := cutOffset(path, start, end, c)
		if err != nil {
			return fmt.Errorf("source crash: %w", err)
		}
		if err := os.Truncate(path, int64(cut)); err != nil {
			return fmt.Errorf("source crash: %w", err)
		}
		src.CrashCut = fmt.Sprintf("%s:%d (the transaction at %d to %d)", file, cut, start, end)
	} else {
		src.CrashCut = fmt.Sprintf("none (the crash after %s:%d)", after, end)
	}
	if err := srv.Restart(ctx); err != nil {
		return fmt.Errorf("source crash: restart: %w", err)
	}
	dbh2, err := srv.Open(ctx, seedgen.DB)
	if err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	defer dbh2.Close()
	if err := replaytest.ExecAll(ctx, dbh2, w.AfterCrash...); err != nil {
		return fmt.Errorf("source crash: after the restart: %w", err)
	}
	if !c.Shadow {
		return nil
	}
	// The thread id of the lost session, given to a later one.
	later, _, err := replaytest.ConnWithThread(ctx, dbh2, thread, true)
	if err != nil {
		return fmt.Errorf("source crash: %w", err)
	}
	defer later.Close()
	if err := execConn(ctx, later, "SET SESSION binlog_format = 'STATEMENT'",
		"CREATE TABLE tc_shadow (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO tc_shadow VALUES (1, 10), (3, 30)",
		"UPDATE tc_shadow SET v = v + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("source crash: the later session of the lost one's thread id: %w", err)
	}
	return nil
}

// execConn runs stmts in order on conn.
func execConn(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// cutOffset returns where to cut the binlog file at path inside the
// transaction at start..end: after its GTID event, c.At of the way
// through its bytes, at an event boundary unless c.MidEvent.
func cutOffset(path string, start, end uint64, c *seedgen.CrashPlan) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if uint64(len(data)) < end {
		return 0, fmt.Errorf("%s has %d bytes, the transaction ends at %d", path, len(data), end)
	}
	var bounds []uint64 // event starts after the GTID event
	for at := start; at+13 <= end; {
		size := uint64(binary.LittleEndian.Uint32(data[at+9:]))
		if size == 0 {
			return 0, fmt.Errorf("%s: an event of 0 bytes at %d", path, at)
		}
		at += size
		if at < end {
			bounds = append(bounds, at)
		}
	}
	if len(bounds) == 0 {
		return 0, fmt.Errorf("%s: the transaction at %d has one event", path, start)
	}
	if c.MidEvent {
		return bounds[0] + uint64(c.At*float64(end-bounds[0]-1)), nil
	}
	return bounds[min(int(c.At*float64(len(bounds))), len(bounds)-1)], nil
}
