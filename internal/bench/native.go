package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// applyNative makes tgt a replica of the source from the base's position,
// lets its IO thread fetch every binlog first (untimed), then times only
// the SQL threads applying them: MariaDB's own parallel replication. The
// replica connects to the source's port, or to sourcePort when it is not
// 0 (a latency proxy's).
func applyNative(ctx context.Context, o *Options, in *input, tgt *sandbox.Server, sourcePort int) (usage, error) {
	if in.source == nil {
		return usage{}, fmt.Errorf("native replication: no source server to replicate from")
	}
	if sourcePort == 0 {
		sourcePort = in.source.Port
	}
	db, err := tgt.Open(ctx, "")
	if err != nil {
		return usage{}, err
	}
	defer db.Close()
	last := in.files[len(in.files)-1]
	fi, err := os.Stat(last)
	if err != nil {
		return usage{}, fmt.Errorf("stat last binlog: %w", err)
	}
	end := endPos{file: filepath.Base(last), pos: fi.Size()}
	setup := []string{
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', "+
			"MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d, MASTER_USE_GTID=no", sourcePort, in.start.File, in.start.Offset),
		fmt.Sprintf("SET GLOBAL slave_parallel_threads=%d", o.Methods.NativeThreads),
		fmt.Sprintf("SET GLOBAL slave_parallel_mode='%s'", o.Methods.NativeMode),
		"START SLAVE IO_THREAD",
	}
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return usage{}, fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := waitReplica(ctx, db, end, "Read_Master_Log_Pos", "Master_Log_File"); err != nil {
		return usage{}, fmt.Errorf("fetch binlogs: %w", err)
	}
	m := startMeter(tgt.Pid)
	if _, err := db.ExecContext(ctx, "START SLAVE SQL_THREAD"); err != nil {
		return m.stop(), fmt.Errorf("start slave sql_thread: %w", err)
	}
	if err := waitReplica(ctx, db, end, "Exec_Master_Log_Pos", "Relay_Master_Log_File"); err != nil {
		return m.stop(), fmt.Errorf("apply: %w", err)
	}
	used := m.stop()
	if _, err := db.ExecContext(ctx, "STOP SLAVE"); err != nil {
		return used, fmt.Errorf("stop slave: %w", err)
	}
	return used, nil
}

type endPos struct {
	file string
	pos  int64
}

// waitReplica polls SHOW SLAVE STATUS every 20 ms until the position
// column (in the file column) reaches end or goes past it. Polling is the only way to
// observe a replica's progress; errors of either replica thread stop it.
func waitReplica(ctx context.Context, db *sql.DB, end endPos, posCol, fileCol string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := slaveStatus(ctx, db)
		if err != nil {
			return err
		}
		if e := st["Last_IO_Error"] + st["Last_SQL_Error"]; e != "" {
			return fmt.Errorf("replica error: %s", e)
		}
		// At or past the end: a source that logged more after the copy
		// was taken (the replica then applies it too, and verification
		// says so) must not keep the wait going for ever.
		pos, _ := strconv.ParseInt(st[posCol], 10, 64)
		if f := st[fileCol]; f > end.file || f == end.file && pos >= end.pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// slaveStatus returns SHOW SLAVE STATUS as column name -> value.
func slaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, fmt.Errorf("show slave status: no replica configured")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	st := make(map[string]string, len(cols))
	for i, c := range cols {
		st[c] = vals[i].String
	}
	return st, rows.Err()
}
