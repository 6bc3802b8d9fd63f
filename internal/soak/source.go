package soak

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// Source is a seed's source server after its workload: the base snapshot
// and the binlogs written since.
type Source struct {
	Server *sandbox.Server
	// Base is the datadir copy taken before the workload.
	Base string
	// StartFile and StartPos are the binlog position of the base,
	// StartGTID its GTID position (gtid_binlog_pos; "" in a seed kept
	// before it was kept).
	StartFile string
	StartPos  uint64
	StartGTID string
	// Files are the binlog files, oldest first, closed by a flush.
	Files []string
	// Errors counts the workload statements the source refused, by
	// "script kind: error number".
	Errors map[string]int
	// Statements counts the statements run.
	Statements int
	// Accident is the GTID of the accident's transaction (FeatAccident),
	// "" when there is none or the source refused it.
	Accident string
	// CrashCut says where the source's crash cut its binlog
	// (FeatSourceCrash), "" without one.
	CrashCut string
}

// sourceArgs are the source's extra mariadbd arguments for plan p.
func sourceArgs(p seedgen.Plan) []string {
	args := []string{"--innodb-lock-wait-timeout=5", "--log-bin-trust-function-creators=1"}
	if p.MaxBinlogSize > 0 {
		args = append(args, fmt.Sprintf("--max-binlog-size=%d", p.MaxBinlogSize))
	}
	if p.RowImage != "" {
		args = append(args, "--binlog-row-image="+p.RowImage)
	}
	return append(args, p.BinlogOptions...)
}

// runSource starts the source, builds and snapshots the base into dir/base,
// runs the workload and flushes the binlogs. The caller closes the source
// server (also on error, when it is not nil).
func runSource(ctx context.Context, p seedgen.Plan, w *seedgen.Workload, dir string) (*Source, error) {
	srv, err := sandbox.Start(ctx, sandbox.Options{Binlog: true, BinlogFormat: p.Format, Args: sourceArgs(p)})
	if err != nil {
		return nil, fmt.Errorf("start source: %w", err)
	}
	src := &Source{Server: srv, Base: filepath.Join(dir, "base"), Errors: map[string]int{}}
	if err := runSetup(ctx, srv, w.Setup); err != nil {
		return src, err
	}
	hot := p.Has(seedgen.FeatHotBackup)
	if !hot {
		if err := srv.Snapshot(ctx, src.Base); err != nil {
			return src, fmt.Errorf("snapshot base: %w", err)
		}
	}
	dbh, err := srv.Open(ctx, seedgen.DB)
	if err != nil {
		return src, fmt.Errorf("open source: %w", err)
	}
	defer dbh.Close()
	if !hot {
		if src.StartFile, src.StartPos, err = masterStatus(ctx, dbh); err != nil {
			return src, err
		}
		if err := dbh.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&src.StartGTID); err != nil {
			return src, fmt.Errorf("read the base's GTID position: %w", err)
		}
	}
	for path, data := range w.Files {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return src, fmt.Errorf("write load file: %w", err)
		}
	}
	if hot {
		delay := time.Duration(seedgen.NewRand(p.Seed, seedgen.StreamReplay+300).IntN(600)) * time.Millisecond
		if err := src.runSessionsWithBackup(ctx, srv, w.Sessions, delay); err != nil {
			return src, err
		}
	} else if err := src.runSessions(ctx, srv, w.Sessions); err != nil {
		return src, err
	}
	if err := waitSessionsGone(ctx, dbh); err != nil {
		return src, err
	}
	if p.Crash != nil {
		dbh.Close() // the crash ends its connections
		if err := src.crashSource(ctx, srv, p.Crash, w); err != nil {
			return src, err
		}
		if dbh, err = srv.Open(ctx, seedgen.DB); err != nil {
			return src, fmt.Errorf("open source: %w", err)
		}
		defer dbh.Close()
	}
	if _, err := dbh.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		return src, fmt.Errorf("flush binary logs: %w", err)
	}
	if src.Files, err = srv.BinlogFiles(); err != nil {
		return src, fmt.Errorf("list source binlogs: %w", err)
	}
	if hot {
		// The GTID position the backup recorded is the source's
		// gtid_current_pos, which leaves out a domain whose last
		// transaction came under another server id (FeatSeqNo): the
		// base's is the binlog's position there (seed 109314).
		if src.StartGTID, err = binlogPosAt(ctx, src.Files, src.StartFile, src.StartPos); err != nil {
			return src, err
		}
	}
	return src, nil
}

func runSetup(ctx context.Context, srv *sandbox.Server, stmts []string) error {
	dbh, err := srv.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer dbh.Close()
	conn, err := dbh.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("set up base: %s: %w", s, err)
		}
	}
	return nil
}

// masterStatus returns the source's current binlog file and position.
func masterStatus(ctx context.Context, dbh *sql.DB) (string, uint64, error) {
	var file string
	var pos uint64
	var doDB, ignoreDB sql.NullString
	if err := dbh.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		return "", 0, fmt.Errorf("show master status: %w", err)
	}
	return file, pos, nil
}

// runSessions runs every session's scripts concurrently, each session on a
// connection of its own, and closes them (the source then logs the drop of
// their temporary tables).
func (src *Source) runSessions(ctx context.Context, srv *sandbox.Server, sessions [][]seedgen.Script) error {
	dbh, err := srv.Open(ctx, seedgen.DB)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	// Closing the pool closes the sessions' connections (a sql.Conn's
	// Close only returns it to the pool).
	defer dbh.Close()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, scripts := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts, n, accident, err := runSession(ctx, dbh, scripts)
			mu.Lock()
			defer mu.Unlock()
			if accident != "" {
				src.Accident = accident
			}
			for k, v := range counts {
				src.Errors[k] += v
			}
			src.Statements += n
			if err != nil {
				errs = append(errs, fmt.Errorf("source session %d: %w", i, err))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runSession runs scripts on one connection. It returns the refused
// statements by kind and error number, the number of statements run, the
// GTID of the accident's transaction if it ran here, and an error only
// when the session cannot go on (its connection lost).
func runSession(ctx context.Context, dbh *sql.DB, scripts []seedgen.Script) (counts map[string]int, n int, accident string, err error) {
	conn, err := dbh.Conn(ctx)
	if err != nil {
		return nil, 0, "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	counts = map[string]int{}
	for _, sc := range scripts {
		if sc.Pause > 0 {
			select {
			case <-ctx.Done():
				return counts, n, accident, ctx.Err()
			case <-time.After(sc.Pause):
			}
		}
		ran := true
		for _, stmt := range sc.Stmts {
			n++
			_, err := conn.ExecContext(ctx, stmt)
			if err == nil {
				continue
			}
			ran = false
			var me *mysql.MySQLError
			if !errors.As(err, &me) {
				return counts, n, accident, fmt.Errorf("%s: %w", stmt, err)
			}
			counts[fmt.Sprintf("%s: %d", sc.Kind, me.Number)]++
			if me.Number == 1213 || me.Number == 1205 {
				abandon(ctx, conn, sc.Stmts)
				break
			}
		}
		if sc.Kind == seedgen.AccidentKind && ran {
			if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&accident); err != nil {
				return counts, n, accident, fmt.Errorf("read the accident's GTID: %w", err)
			}
		}
	}
	return counts, n, accident, nil
}

// waitSessionsGone waits until the source has no client connection but
// dbh's own: the sessions are closed and the source has logged the drop of
// their temporary tables, before the binlogs are flushed and read.
func waitSessionsGone(ctx context.Context, dbh *sql.DB) error {
	for i := 0; ; i++ {
		var n int
		err := dbh.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "+
			"WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump')").Scan(&n)
		if err != nil {
			return fmt.Errorf("wait for the sessions to close: %w", err)
		}
		if n == 0 {
			return nil
		}
		if i == 500 {
			return fmt.Errorf("wait for the sessions to close: %d connections left after 10s", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// abandon rolls back a script's transaction after a deadlock or lock wait
// timeout (an XA transaction by its xid).
func abandon(ctx context.Context, conn *sql.Conn, stmts []string) {
	for _, s := range stmts {
		if xid, ok := strings.CutPrefix(s, "XA START "); ok {
			conn.ExecContext(ctx, "XA END "+xid)
			conn.ExecContext(ctx, "XA ROLLBACK "+xid)
			return
		}
	}
	conn.ExecContext(ctx, "ROLLBACK")
}

// errorSummary formats error counts, most frequent first.
func errorSummary(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
