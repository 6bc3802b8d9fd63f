package target

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Session is one connection of the run to the target, on which a worker
// applies transactions, with autocommit off (each group is one target
// transaction, ended by the worker's COMMIT). It is recorded in
// binlog_replay.sessions (see sessions.go). It is not safe for concurrent
// use.
type Session struct {
	t         *Target
	conn      *sql.Conn
	id        uint64
	maxPacket int
	// format is the format description the session has installed (row
	// events need one first), nil when none or when it may have been lost.
	format *txn.Format
	// utf8 is set once the session's character set is known to be
	// utf8mb4, as the SQL apply path's statements need (see Exec); a
	// statement event's context changes it.
	utf8 bool
	// Expected, when set, is called for each statement that failed with
	// the error the source logged for it (see Exec).
	Expected func(*sqlgen.Stmt)
}

// StmtError is an error of the target about the statement Stmt: the
// transaction, event and statement it names are Stmt's.
type StmtError struct {
	Stmt *sqlgen.Stmt
	Err  error
}

// Error returns the target's error.
func (e *StmtError) Error() string { return e.Err.Error() }

// Unwrap returns the target's error.
func (e *StmtError) Unwrap() error { return e.Err }

// NewSession opens a session for a worker: autocommit off, the lock wait
// timeout given (which bounds a commit-order deadlock), out of the binlog
// with Config.NoLogBin; it records it (sessions.go).
func (t *Target) NewSession(ctx context.Context, lockWait time.Duration) (sess *Session, err error) {
	t.reserve(1)
	conn, err := t.db.Conn(ctx)
	if err != nil {
		t.reserve(-1)
		return nil, fmt.Errorf("connect to target: %w", err)
	}
	defer func() {
		if err != nil {
			conn.Close()
			t.reserve(-1)
		}
	}()
	sess = &Session{t: t, conn: conn}
	setup := fmt.Sprintf("SET SESSION autocommit=0, SESSION innodb_lock_wait_timeout=%d", int(lockWait/time.Second))
	if t.cfg.NoLogBin {
		setup += ", SESSION sql_log_bin=0"
	}
	if _, err := conn.ExecContext(ctx, setup); err != nil {
		return nil, fmt.Errorf("set up target session: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet, CONNECTION_ID()").Scan(&sess.maxPacket, &sess.id); err != nil {
		return nil, fmt.Errorf("read target session settings: %w", err)
	}
	if err := t.RecordSession(ctx, conn, t.addSession(sess.id)); err != nil {
		return nil, err
	}
	return sess, nil
}

// Close ends the session and closes its connection (it never goes back
// to the pool): the session's temporary tables end with it, as a
// statement session's must when the source restarted (a pooled connection
// would keep them for its next use), and its settings (autocommit off,
// pseudo_thread_id, the GTID variables) must not reach other uses of the
// pool.
//
// With source GTIDs kept, it is closed out of the binlog: at a
// disconnect, the server logs a DROP of the session's temporary tables (in
// STATEMENT or MIXED format) under a GTID of the session's domain and
// server id (the source's, which the source then uses for a transaction of
// its own).
func (sess *Session) Close() error {
	defer sess.t.reserve(-1)
	var err error
	if sess.t.keepGTIDs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// sql_log_bin cannot change inside a transaction: end any first
		// (a disconnect would roll it back anyway).
		if _, err = sess.conn.ExecContext(ctx, "ROLLBACK"); err == nil {
			_, err = sess.conn.ExecContext(ctx, "SET SESSION sql_log_bin=0")
		}
	}
	// driver.ErrBadConn makes database/sql close the connection instead
	// of pooling it.
	_ = sess.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = sess.conn.Close()
	return err
}

// Conn returns the session's connection, for reads that must see what the
// session sees (its temporary tables: schema.Fingerprint).
func (sess *Session) Conn() *sql.Conn { return sess.conn }

// Format returns the format description the session has installed, nil
// when none or when it may have been lost; SetFormat records one sent.
func (sess *Session) Format() *txn.Format { return sess.format }

// SetFormat records that f is installed on the session (or, nil, that it
// may not be).
func (sess *Session) SetFormat(f *txn.Format) { sess.format = f }

// Run sends sql, one packet (statements ending in a COMMIT, say).
func (sess *Session) Run(ctx context.Context, sql string) error {
	_, err := sess.conn.ExecContext(ctx, sql)
	return err
}

// execUnlogged runs sql, statements ending in a COMMIT, kept out of the
// target's binlog when source GTIDs are kept (run.unlogged). When the
// server refuses one of them, the statements after it in the packet do not
// run: the session's sql_log_bin is then set back, so that nothing else
// run on it is left out of the binlog.
func (sess *Session) RunUnlogged(ctx context.Context, sql string) error {
	_, err := sess.conn.ExecContext(ctx, sess.t.Unlogged(sql))
	if err != nil && sess.t.keepGTIDs && IsServerError(err) {
		if _, rerr := sess.conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_log_bin=1"); rerr != nil {
			sess.t.logf("could not set sql_log_bin back to 1 on a target session after %v: %v", err, rerr)
		}
	}
	return err
}

// PacketLimit is the most bytes a session packs into one packet for a
// target whose max_allowed_packet is maxAllowedPacket: half of it (room
// for the protocol and for statements larger than their estimate), at
// least 64 KiB. The SQL apply path's statements must fit in it
// (sqlgen.Generator.MaxStatementBytes).
func PacketLimit(maxAllowedPacket int) int { return max(maxAllowedPacket/2, 64<<10) }

// PacketLimit reads the target's max_allowed_packet and returns the
// PacketLimit of its sessions.
func (t *Target) PacketLimit(ctx context.Context) (int, error) {
	var n int
	if err := t.db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&n); err != nil {
		return 0, fmt.Errorf("read the target's max_allowed_packet: %w", err)
	}
	return PacketLimit(n), nil
}

// Exec sends stmts, several per round trip where allowed, within the
// target's packet limit: consecutive SQL statements share a multi-statement
// packet, consecutive row events share one BINLOG statement sent alone. The
// error names the transaction, event and statement that failed.
//
// The SQL apply path's statements (Stmt.Check) name tables and columns in
// UTF-8, as the table maps give them: before the first of them, and again
// after any statement event (whose context sets the source's
// character_set_client, latin1 say), the session is given SET NAMES
// utf8mb4, in a round trip of its own (a SET in the same multi-statement
// packet would not apply to the statements after it). The SQL apply path's
// statements go one packet group per packet (see sqlgen.Stmt.Check): a
// group for each row event, or for several consecutive ones of a
// transaction.
func (sess *Session) Exec(ctx context.Context, stmts []sqlgen.Stmt) error {
	return sess.exec(ctx, stmts, packGroups)
}

// ExecJoined is Exec, but with consecutive statements of the SQL apply path
// sharing packets across packet groups, row events and transactions, as
// far as the packet limit allows: one round trip where Exec may take one
// per transaction. Where such a packet cannot be checked exactly (an
// UPDATE that changed fewer rows than it carries, with statements of
// later groups after it) it fails with an error wrapping sqlgen.ErrRepack:
// roll the transaction back and send the statements again with Exec.
func (sess *Session) ExecJoined(ctx context.Context, stmts []sqlgen.Stmt) error {
	return sess.exec(ctx, stmts, packJoined)
}

// ExecEach is Exec, but with each statement of the SQL apply path in a
// packet of its own: slower, and exact about which statement, and so
// which row event, the target refuses (a server error is about a whole
// packet).
func (sess *Session) ExecEach(ctx context.Context, stmts []sqlgen.Stmt) error {
	return sess.exec(ctx, stmts, packEach)
}

// packing says how exec packs the SQL apply path's statements.
type packing int

const (
	packGroups packing = iota // one packet group per packet (Exec)
	packJoined                // groups joined (ExecJoined)
	packEach                  // one statement per packet (ExecEach)
)

// exec is Exec, ExecJoined or ExecEach, as pack says.
func (sess *Session) exec(ctx context.Context, stmts []sqlgen.Stmt, pack packing) error {
	limit := PacketLimit(sess.maxPacket)
	var (
		batch   []string       // SQL statements for one packet
		batched []*sqlgen.Stmt // the statements of batch
		events  []*txn.Event
		checked []*sqlgen.Stmt // statements of the SQL apply path for one packet
		blame   *sqlgen.Stmt   // first statement of what is pending that names an event
		size    int
	)
	send := func(sql string) error {
		if len(batched) == 1 && batched[0].LoadName != "" {
			// LOAD DATA reads its file from the session (sqlgen.Stmt.Load).
			data := batched[0].Load
			mysql.RegisterReaderHandler(batched[0].LoadName, func() io.Reader { return bytes.NewReader(data) })
			defer mysql.DeregisterReaderHandler(batched[0].LoadName)
		}
		_, err := sess.conn.ExecContext(ctx, sql)
		for _, s := range batched {
			if s.Event != nil && s.Event.Kind == txn.EventQuery {
				sess.utf8 = false // the source session's character set, now
			}
		}
		if len(batched) == 1 && batched[0].ExpectErr != 0 {
			err = sess.expected(batched[0], err)
		}
		if err != nil {
			sess.format = nil // the session may have lost what it was told
			if s := culprit(batched, err); s != nil && s.Txn != nil {
				blame = s
			}
			if blame == nil || blame.Txn == nil {
				return err
			}
			return &StmtError{Stmt: blame, Err: err}
		}
		return nil
	}
	flush := func() error {
		var err error
		switch {
		case len(events) > 0:
			err = send(sqlgen.BinlogStatement(events))
		case len(checked) > 0:
			err = sess.execChecked(ctx, checked)
		case len(batch) > 0:
			err = send(strings.Join(batch, ";\n"))
		}
		batch, batched, events, checked, blame, size = batch[:0], batched[:0], nil, nil, nil, 0
		return err
	}
	for i := range stmts {
		s := &stmts[i]
		n := len(s.SQL) + 2
		if s.Events != nil {
			n = sqlgen.BinlogSize(s.Events)
		}
		// A change of kind, a statement that must go alone, or a full
		// packet ends what is pending.
		// Statements of the SQL apply path go one packet group per
		// packet, unless joined.
		if s.Expect != nil {
			if err := flush(); err != nil {
				return err
			}
			if err := sqlgen.ExecExpect(ctx, sess.conn, s); err != nil {
				sess.format = nil
				return &StmtError{Stmt: s, Err: err}
			}
			continue
		}
		newGroup := s.Alone || len(checked) > 0 && checked[0].Event != s.Event
		switch {
		case s.Check != nil && pack == packJoined:
			newGroup = false
		case s.Check != nil && pack == packEach:
			newGroup = true
		}
		if (s.Events != nil) != (len(events) > 0) || (s.Check != nil) != (len(checked) > 0) || newGroup || size+n > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		if s.Check != nil && !sess.utf8 {
			if err := flush(); err != nil {
				return err
			}
			if err := sess.setNames(ctx, s); err != nil {
				return err
			}
		}
		if blame == nil || blame.Event == nil && s.Event != nil {
			blame = s // the format description names no event: the statement after it does
		}
		size += n
		if s.Events != nil {
			if n > limit {
				// One source statement too large for a packet: send it
				// in pieces (nothing else is pending here).
				if err := sess.sendSplit(ctx, s, limit); err != nil {
					return err
				}
				size, blame = 0, nil
				continue
			}
			events = append(events, s.Events...)
			continue
		}
		if s.Check != nil {
			checked = append(checked, s)
			continue
		}
		batch, batched = append(batch, s.SQL), append(batched, s)
		if s.Alone {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// expected checks the outcome err of the statement s, which the source
// logged as failing with error s.expectErr, as a replica does: the same
// error is success (what the statement changed before failing stays, as
// on the source), anything else stops the replay.
func (sess *Session) expected(s *sqlgen.Stmt, err error) error {
	var me *mysql.MySQLError
	switch {
	case IsMySQLError(err, s.ExpectErr):
		if sess.Expected != nil {
			sess.Expected(s)
		}
		sess.t.logf("%s at %s failed with error %d, as on the source (what it changed before failing stays)",
			s.Event.TypeName, s.Event.Pos, s.ExpectErr)
		return nil
	case err == nil:
		return fmt.Errorf("the source logged this statement as failing with error %d part way; the target ran it "+
			"without error, so the two now differ (a replica stops here too)", s.ExpectErr)
	case errors.As(err, &me):
		return fmt.Errorf("the source logged this statement as failing with error %d; the target failed with another: %w", s.ExpectErr, err)
	}
	return err
}

// setNames gives the session the character set of the SQL apply path's
// statements, before s (see Exec).
func (sess *Session) setNames(ctx context.Context, s *sqlgen.Stmt) error {
	if _, err := sess.conn.ExecContext(ctx, "SET NAMES utf8mb4"); err != nil {
		sess.format = nil
		err = fmt.Errorf("set the session's character set to utf8mb4 for the SQL apply path: %w", err)
		if s.Txn == nil {
			return err
		}
		return &StmtError{Stmt: s, Err: err}
	}
	sess.utf8 = true
	return nil
}

// execChecked sends the statements of the SQL apply path for one row
// event and checks the rows they changed (sqlgen.ExecChecked).
func (sess *Session) execChecked(ctx context.Context, stmts []*sqlgen.Stmt) error {
	if s, err := sqlgen.ExecChecked(ctx, sess.conn, stmts); err != nil {
		sess.format = nil
		return &StmtError{Stmt: s, Err: err}
	}
	return nil
}

// culprit returns, among the statements of a multi-statement packet that
// failed with err, the one the error is about where its code tells (the
// driver does not say which statement of a packet failed), or nil: an
// unknown database is the USE's, not the SET's before it; a GTID the
// session may not switch to is the GTID statement's.
func culprit(batched []*sqlgen.Stmt, err error) *sqlgen.Stmt {
	var prefix string
	switch {
	case IsMySQLError(err, errBadDB):
		prefix = "USE "
	case IsMySQLError(err, errGTIDSwitch):
		prefix = "SET SESSION gtid_domain_id="
	default:
		return nil
	}
	for _, s := range batched {
		if strings.HasPrefix(s.SQL, prefix) {
			return s
		}
	}
	return nil
}

// sendSplit sends the row events of one source statement in several BINLOG
// statements of at most limit bytes each, repeating the statement's table
// maps at the head of every piece so that each piece can be applied on its
// own; the server keeps the statement open until the row event flagged as
// its end.
func (sess *Session) sendSplit(ctx context.Context, s *sqlgen.Stmt, limit int) error {
	var maps, piece []*txn.Event
	for _, e := range s.Events {
		if e.Kind == txn.EventTableMap {
			maps = append(maps, e)
		}
	}
	piece = append(piece, maps...)
	for _, e := range s.Events {
		if e.Kind == txn.EventTableMap {
			continue
		}
		if len(piece) > len(maps) && sqlgen.BinlogSize(append(piece, e)) > limit {
			if err := sess.sendBinlog(ctx, s, piece); err != nil {
				return err
			}
			piece = append(piece[:0], maps...)
		}
		piece = append(piece, e)
	}
	return sess.sendBinlog(ctx, s, piece)
}

// sendBinlog sends one BINLOG statement made of events, on behalf of s.
func (sess *Session) sendBinlog(ctx context.Context, s *sqlgen.Stmt, events []*txn.Event) error {
	if _, err := sess.conn.ExecContext(ctx, sqlgen.BinlogStatement(events)); err != nil {
		sess.format = nil
		if s.Txn == nil {
			return err
		}
		return &StmtError{Stmt: s, Err: err}
	}
	return nil
}

// rollback ends the open target transaction, if any. Errors are ignored:
// a broken connection rolls back on its own.
func (sess *Session) Rollback() {
	_, _ = sess.conn.ExecContext(context.Background(), "ROLLBACK")
}
