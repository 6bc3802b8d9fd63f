// Package target is the replay's side of the target server: the
// connection pool and what identifies a run there (a random run id, the
// server's start time), the replay lock a run holds (lock.go), the
// sessions it records so that a later run can end those a lost run left
// (sessions.go), stall reports (stall.go), the checkpoint table
// (checkpoint.go), the GTIDs the target logs (gtids.go), the privilege
// checks, and the sessions the workers apply on (session.go).
//
// One Target serves one attempt of a run (replay.runOnce); a run that
// reconnects opens a new one, handing it the lost attempt's sessions
// (Config.Stale).
package target

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config says how to reach the target and what the run is.
type Config struct {
	// DSN is the target's go-sql-driver DSN, its password filled in; TLS,
	// if set, the TLS configuration of every connection (overriding the
	// DSN's).
	DSN string
	TLS *tls.Config
	// Conns is how many connections the run opens at once (workers, the
	// statement session, schema reads, the order monitor).
	Conns int
	// Resume says the run continues an earlier one: it may end the earlier
	// run's sessions and take its lock (see sessions.go).
	Resume bool
	// Stale are the sessions of this process's lost attempt, when it
	// reconnects.
	Stale Stale
	// NoLogBin keeps the run out of the target's binary log.
	NoLogBin bool
}

// Target is the target server of one attempt of a run. Its methods are
// safe for concurrent use.
type Target struct {
	db   *sql.DB
	cfg  Config
	logf func(format string, args ...any)

	runID       string
	serverStart int64 // the server's start time, Unix seconds
	mariadb     bool
	version     string
	keepGTIDs   bool // set by DecideGTIDs, before the run applies
	lock        *replayLock

	mu       sync.Mutex
	sessions []uint64 // the run's sessions' connection ids, by slot
	open     int      // the sessions open (reserve)
}

// reserve counts a session opened (delta 1) or closed (-1), and sizes
// the pool so that two connections stay free beyond the sessions for the
// run's short reads (table definitions, the order monitor), however many
// sessions it opens (a statement session per GTID domain): taken by
// sessions, the pool would leave those reads waiting for ever.
func (t *Target) reserve(delta int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open += delta
	n := max(t.cfg.Conns+1, t.open+2)
	t.db.SetMaxOpenConns(n)
	t.db.SetMaxIdleConns(n)
}

// Open connects to the target (a pool of cfg.Conns connections), checks
// that it answers, and reads what identifies the server. logf receives the
// log lines of the target's side of the run. On error nothing stays open.
func Open(ctx context.Context, cfg Config, logf func(format string, args ...any)) (*Target, error) {
	db, err := openPool(cfg.DSN, cfg.TLS, cfg.Conns)
	if err != nil {
		return nil, err
	}
	t := &Target{db: db, cfg: cfg, logf: logf, runID: newRunID()}
	if err := t.identify(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return t, nil
}

// identify pings the target and reads its version and start time.
func (t *Target) identify(ctx context.Context) error {
	if err := t.db.PingContext(ctx); err != nil {
		if IsMySQLError(err, errAccessDenied) {
			return fmt.Errorf("connect to target: %w (check the user and the password; "+
				"an account that REQUIREs SSL also needs TLS: --tls-ca FILE, or tls=true in the DSN)", err)
		}
		return fmt.Errorf("connect to target: %w", err)
	}
	if err := t.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&t.version); err != nil {
		return fmt.Errorf("read the target's version: %w", err)
	}
	t.mariadb = strings.Contains(strings.ToLower(t.version), "mariadb")
	var err error
	t.serverStart, err = serverStart(ctx, t.db)
	return err
}

// openPool opens the target with the settings the applier relies on (many
// statements per packet, no client-side time parsing, the server's packet
// limit, autocommit on whatever the server's global default: a statement
// outside BEGIN ... COMMIT must not open a transaction that holds its
// locks and snapshot, nor refuse a later SET sql_log_bin), over TLS with
// tlsConfig when it is set.
func openPool(dsn string, tlsConfig *tls.Config, conns int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse target DSN: %w", err)
	}
	if tlsConfig != nil {
		cfg.TLS = tlsConfig.Clone()
		cfg.AllowFallbackToPlaintext = false
	}
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	cfg.ParseTime = false
	cfg.MaxAllowedPacket = 0 // use the server's
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["autocommit"] = "1"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns + 1)
	db.SetMaxIdleConns(conns + 1)
	return db, nil
}

// DB returns the connection pool, for reads that need no session of
// their own (schema definitions, collations).
func (t *Target) DB() *sql.DB { return t.db }

// Version returns the server's VERSION(); MariaDB reports whether it is
// MariaDB.
func (t *Target) Version() string { return t.version }

// MariaDB reports whether the target is MariaDB.
func (t *Target) MariaDB() bool { return t.mariadb }

// KeepGTIDs reports whether the run logs its commits with the source's
// GTIDs (DecideGTIDs).
func (t *Target) KeepGTIDs() bool { return t.keepGTIDs }

// Close releases the replay lock, last, after the pool: the run's other
// sessions end first, so that a run taking the lock finds none of them.
func (t *Target) Close() error {
	err := t.db.Close()
	t.lock.release()
	return err
}

// Server errors the package branches on.
const (
	errAccessDenied    = 1045
	errBadDB           = 1049
	errBadField        = 1054
	errNoSuchTable     = 1146
	errLockWaitTimeout = 1205
	// errGTIDSwitch: gtid_domain_id or gtid_seq_no set where the session
	// may not change them (in a transaction, or holding temporary tables).
	errGTIDSwitch = 1953
)

// IsMySQLError reports whether err is a server error with one of codes.
func IsMySQLError(err error, codes ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, c := range codes {
		if me.Number == c {
			return true
		}
	}
	return false
}

// IsServerError reports whether err is an error the target server returned
// for a statement (not a lost connection or a cancelled context).
func IsServerError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}

// abbreviate cuts s to n bytes, marking the cut.
func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// LockWaiting reports whether a transaction on the target waits for a row
// lock (InnoDB refreshes this view at most every 0.1 s).
func (t *Target) LockWaiting(ctx context.Context) (bool, error) {
	var n int
	err := t.db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'").Scan(&n)
	return n > 0, err
}

// RoundTrip measures the round trip to the target: the median of a few
// trivial statements on one connection.
func (t *Target) RoundTrip(ctx context.Context) (time.Duration, error) {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	times := make([]time.Duration, 7)
	for i := range times {
		start := time.Now()
		if _, err := conn.ExecContext(ctx, "DO 0"); err != nil {
			return 0, fmt.Errorf("measure the round trip to the target: %w", err)
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
