// Package unit runs a workload's units of work (Unit: a transaction or a
// run of autocommit statements, with the session context it needs) on a
// server connection (Session), with a fixed clock unless asked for the
// real one, and retries lock conflicts.
package unit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"

	"github.com/go-sql-driver/mysql"
)

// Session defaults every workload session starts from. The SQL mode is
// stricter than MariaDB's default so that zero dates need the permissive
// mode, which then has to travel with the events that use it.
const (
	DefaultSQLMode    = "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
	PermissiveSQLMode = "NO_ENGINE_SUBSTITUTION"
	defaultTimeZone   = "+00:00"
	defaultCharset    = "utf8mb4"
)

// Fixed clock: Setup unit j runs at SetupEpoch, Run transaction i at
// RunEpoch+i seconds (plus a few milliseconds per unit within it).
const (
	SetupEpoch int64 = 1709251200 // 2024-03-01 00:00:00 UTC
	RunEpoch         = SetupEpoch + 86400
)

const maxRetries = 50

// Env is the session context a unit runs in; the zero value is the default.
type Env struct {
	TimeZone   string // "" is defaultTimeZone
	SQLMode    string // "" is DefaultSQLMode
	Charset    string // "" is defaultCharset (SET NAMES)
	NoFKChecks bool
}

// Resolved returns e with its empty fields set to the defaults.
func (e Env) Resolved() Env {
	if e.TimeZone == "" {
		e.TimeZone = defaultTimeZone
	}
	if e.SQLMode == "" {
		e.SQLMode = DefaultSQLMode
	}
	if e.Charset == "" {
		e.Charset = defaultCharset
	}
	return e
}

// Unit is one transaction (tx) or a run of autocommit statements.
type Unit struct {
	Stmts []string
	tx    bool
	Env   Env
}

// Tx returns a BEGIN ... COMMIT unit.
func Tx(stmts ...string) Unit { return Unit{Stmts: stmts, tx: true} }

// Auto returns a unit of autocommit statements.
func Auto(stmts ...string) Unit { return Unit{Stmts: stmts} }

// With returns u running in e.
func (u Unit) With(e Env) Unit { u.Env = e; return u }

// Session is one connection with the session context it was last given.
type Session struct {
	conn      *sql.Conn
	id        int // -1 for Setup
	realClock bool
	cur       Env
}

// Open takes a connection from db and gives it the default session
// context. It returns the error wrapped if that fails.
func Open(ctx context.Context, db *sql.DB, realClock bool, id int) (*Session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open workload session %d: %w", id, err)
	}
	s := &Session{conn: conn, id: id, realClock: realClock && id >= 0} // Setup keeps the fixed clock
	d := Env{}.Resolved()
	for _, q := range []string{
		"SET NAMES " + d.Charset,
		fmt.Sprintf("SET time_zone=%s, sql_mode=%s, foreign_key_checks=1, autocommit=1",
			sqlvals.Str(d.TimeZone), sqlvals.Str(d.SQLMode)),
	} {
		if err := s.Exec(ctx, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("open workload session %d: %w", id, err)
		}
	}
	s.cur = d
	return s, nil
}

// Close discards the connection instead of returning it to db's pool, so
// that no session variable or temporary table leaks to other users of db.
func (s *Session) Close() {
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close()
}

// Exec runs one statement, wrapping any error with the statement's start.
func (s *Session) Exec(ctx context.Context, q string) error {
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("exec %s: %w", Clip(q), err)
	}
	return nil
}

// Apply runs u after setting its session context and, with the fixed clock,
// @@timestamp to second plus j milliseconds and a fraction. Lock wait
// timeouts and deadlocks are retried (a transaction as a whole).
func (s *Session) Apply(ctx context.Context, u Unit, second int64, j int) error {
	if err := s.prepare(ctx, u.Env, second, j); err != nil {
		return err
	}
	if u.tx {
		return s.retry(ctx, func() error { return s.runTx(ctx, u.Stmts) })
	}
	for _, q := range u.Stmts {
		if err := s.retry(ctx, func() error { return s.Exec(ctx, q) }); err != nil {
			return err
		}
	}
	return nil
}

// prepare sets what differs from the current session context, and the clock.
func (s *Session) prepare(ctx context.Context, e Env, second int64, j int) error {
	e = e.Resolved()
	if e.Charset != s.cur.Charset {
		if err := s.Exec(ctx, "SET NAMES "+e.Charset); err != nil {
			return err
		}
		s.cur.Charset = e.Charset
	}
	var sets []string
	if e.TimeZone != s.cur.TimeZone {
		sets = append(sets, "time_zone="+sqlvals.Str(e.TimeZone))
	}
	if e.SQLMode != s.cur.SQLMode {
		sets = append(sets, "sql_mode="+sqlvals.Str(e.SQLMode))
	}
	if e.NoFKChecks != s.cur.NoFKChecks {
		sets = append(sets, fmt.Sprintf("foreign_key_checks=%d", b2i(!e.NoFKChecks)))
	}
	if !s.realClock {
		sec, micros := FixedClock(second, j)
		sets = append(sets, fmt.Sprintf("timestamp=%d.%06d", sec, micros))
	}
	if len(sets) == 0 {
		return nil
	}
	q := "SET " + sets[0]
	for _, v := range sets[1:] {
		q += ", " + v
	}
	if err := s.Exec(ctx, q); err != nil {
		return err
	}
	s.cur = e
	return nil
}

// runTx runs stmts between BEGIN and COMMIT, rolling back on error.
func (s *Session) runTx(ctx context.Context, stmts []string) error {
	if err := s.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	for _, q := range stmts {
		if err := s.Exec(ctx, q); err != nil {
			s.rollback()
			return err
		}
	}
	if err := s.Exec(ctx, "COMMIT"); err != nil {
		s.rollback()
		return err
	}
	return nil
}

// FixedClock returns the @@timestamp (seconds and microseconds) of unit j
// run at second: j milliseconds later, plus a fraction varying with second.
func FixedClock(second int64, j int) (sec, micros int64) {
	m := (second*7919)%1000 + int64(j)*1000
	return second + m/1e6, m % 1e6
}

// rollback rolls back the open transaction even if ctx is already done.
func (s *Session) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.conn.ExecContext(ctx, "ROLLBACK")
}

// retry runs f until it succeeds, fails with an error other than a lock
// conflict, or has failed maxRetries times. Between tries it waits a little,
// longer each time and different per session.
func (s *Session) retry(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !isLockConflict(err) || attempt >= maxRetries {
			return err
		}
		wait := time.Duration(attempt*(3+s.id%5)) * time.Millisecond
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry after %w: %w", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// isLockConflict reports a lock wait timeout or a deadlock.
func isLockConflict(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1205 || me.Number == 1213)
}

// Clip shortens a statement for an error message.
func Clip(q string) string {
	const max = 300
	if len(q) <= max {
		return q
	}
	return fmt.Sprintf("%s... (%d bytes)", q[:max], len(q))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
