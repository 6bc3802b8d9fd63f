package workload

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
	defaultSQLMode    = "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
	permissiveSQLMode = "NO_ENGINE_SUBSTITUTION"
	defaultTimeZone   = "+00:00"
	defaultCharset    = "utf8mb4"
)

// Fixed clock: Setup unit j runs at setupEpoch, Run transaction i at
// runEpoch+i seconds (plus a few milliseconds per unit within it).
const (
	setupEpoch int64 = 1709251200 // 2024-03-01 00:00:00 UTC
	runEpoch         = setupEpoch + 86400
)

const maxRetries = 50

// env is the session context a unit runs in; the zero value is the default.
type env struct {
	timeZone   string // "" is defaultTimeZone
	sqlMode    string // "" is defaultSQLMode
	charset    string // "" is defaultCharset (SET NAMES)
	noFKChecks bool
}

func (e env) resolved() env {
	if e.timeZone == "" {
		e.timeZone = defaultTimeZone
	}
	if e.sqlMode == "" {
		e.sqlMode = defaultSQLMode
	}
	if e.charset == "" {
		e.charset = defaultCharset
	}
	return e
}

// unit is one transaction (tx) or a run of autocommit statements.
type unit struct {
	stmts []string
	tx    bool
	env   env
}

// txUnit returns a BEGIN ... COMMIT unit.
func txUnit(stmts ...string) unit { return unit{stmts: stmts, tx: true} }

// autoUnit returns a unit of autocommit statements.
func autoUnit(stmts ...string) unit { return unit{stmts: stmts} }

// with returns u running in e.
func (u unit) with(e env) unit { u.env = e; return u }

// session is one connection with the session context it was last given.
type session struct {
	conn      *sql.Conn
	id        int // -1 for Setup
	realClock bool
	cur       env
}

// openSession takes a connection from db and gives it the default session
// context. It returns the error wrapped if that fails.
func openSession(ctx context.Context, db *sql.DB, o Options, id int) (*session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open workload session %d: %w", id, err)
	}
	s := &session{conn: conn, id: id, realClock: o.RealClock && id >= 0} // Setup keeps the fixed clock
	d := env{}.resolved()
	for _, q := range []string{
		"SET NAMES " + d.charset,
		fmt.Sprintf("SET time_zone=%s, sql_mode=%s, foreign_key_checks=1, autocommit=1",
			sqlvals.Str(d.timeZone), sqlvals.Str(d.sqlMode)),
	} {
		if err := s.exec(ctx, q); err != nil {
			s.close()
			return nil, fmt.Errorf("open workload session %d: %w", id, err)
		}
	}
	s.cur = d
	return s, nil
}

// close discards the connection instead of returning it to db's pool, so
// that no session variable or temporary table leaks to other users of db.
func (s *session) close() {
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close()
}

// exec runs one statement, wrapping any error with the statement's start.
func (s *session) exec(ctx context.Context, q string) error {
	if _, err := s.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("exec %s: %w", clip(q), err)
	}
	return nil
}

// apply runs u after setting its session context and, with the fixed clock,
// @@timestamp to second plus j milliseconds and a fraction. Lock wait
// timeouts and deadlocks are retried (a transaction as a whole).
func (s *session) apply(ctx context.Context, u unit, second int64, j int) error {
	if err := s.prepare(ctx, u.env, second, j); err != nil {
		return err
	}
	if u.tx {
		return s.retry(ctx, func() error { return s.runTx(ctx, u.stmts) })
	}
	for _, q := range u.stmts {
		if err := s.retry(ctx, func() error { return s.exec(ctx, q) }); err != nil {
			return err
		}
	}
	return nil
}

// prepare sets what differs from the current session context, and the clock.
func (s *session) prepare(ctx context.Context, e env, second int64, j int) error {
	e = e.resolved()
	if e.charset != s.cur.charset {
		if err := s.exec(ctx, "SET NAMES "+e.charset); err != nil {
			return err
		}
		s.cur.charset = e.charset
	}
	var sets []string
	if e.timeZone != s.cur.timeZone {
		sets = append(sets, "time_zone="+sqlvals.Str(e.timeZone))
	}
	if e.sqlMode != s.cur.sqlMode {
		sets = append(sets, "sql_mode="+sqlvals.Str(e.sqlMode))
	}
	if e.noFKChecks != s.cur.noFKChecks {
		sets = append(sets, fmt.Sprintf("foreign_key_checks=%d", b2i(!e.noFKChecks)))
	}
	if !s.realClock {
		sec, micros := fixedClock(second, j)
		sets = append(sets, fmt.Sprintf("timestamp=%d.%06d", sec, micros))
	}
	if len(sets) == 0 {
		return nil
	}
	q := "SET " + sets[0]
	for _, v := range sets[1:] {
		q += ", " + v
	}
	if err := s.exec(ctx, q); err != nil {
		return err
	}
	s.cur = e
	return nil
}

// runTx runs stmts between BEGIN and COMMIT, rolling back on error.
func (s *session) runTx(ctx context.Context, stmts []string) error {
	if err := s.exec(ctx, "BEGIN"); err != nil {
		return err
	}
	for _, q := range stmts {
		if err := s.exec(ctx, q); err != nil {
			s.rollback()
			return err
		}
	}
	if err := s.exec(ctx, "COMMIT"); err != nil {
		s.rollback()
		return err
	}
	return nil
}

// fixedClock returns the @@timestamp (seconds and microseconds) of unit j
// run at second: j milliseconds later, plus a fraction varying with second.
func fixedClock(second int64, j int) (sec, micros int64) {
	m := (second*7919)%1000 + int64(j)*1000
	return second + m/1e6, m % 1e6
}

// rollback rolls back the open transaction even if ctx is already done.
func (s *session) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.conn.ExecContext(ctx, "ROLLBACK")
}

// retry runs f until it succeeds, fails with an error other than a lock
// conflict, or has failed maxRetries times. Between tries it waits a little,
// longer each time and different per session.
func (s *session) retry(ctx context.Context, f func() error) error {
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

// clip shortens a statement for an error message.
func clip(q string) string {
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
