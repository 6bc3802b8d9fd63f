package sqlgen

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/txn"
)

// ErrRepack is returned by ExecChecked for a packet joined across packet
// groups (see Stmt.Check) in which an UPDATE changed fewer rows than it
// carries and a later statement of the packet, of another group, may have
// changed what its Found query sees: whether it found its rows cannot be
// told. Nothing is wrong with the rows; the caller rolls the transaction
// back and applies it again with each group's statements in packets of
// their own, where the Found query runs before any statement that could
// change its answer.
var ErrRepack = errors.New("an UPDATE changed fewer rows than it carries in a packet joined across groups: " +
	"apply the transaction again with packets split at the groups")

// ExecChecked sends stmts, statements of the SQL apply path, in one packet
// on conn, and checks that each changed the rows it must (see RowCheck).
// The statements of one packet group (consecutive ones with the same
// Event, up to one with Alone; see Stmt.Check) may always share a packet;
// a packet joining several groups (of several row events, of several
// transactions) is checked as exactly, and fails with ErrRepack (not a
// *RowsError) where it cannot be: when an UPDATE of a group before the
// last changed fewer rows than it carries. On another error it returns
// the statement it is about and a *RowsError naming its Event, with the
// positions of the row events its rows come from when there are several:
// a server error is about the first statement (the driver does not say
// which statement of a packet failed), and names every row event of the
// packet.
func ExecChecked(ctx context.Context, conn *sql.Conn, stmts []*Stmt) (*Stmt, error) {
	common := newCommonSettings()
	sqls := common.packet(stmts)
	var affected []int64
	err := conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("the target's driver connection %T cannot run statements", dc)
		}
		res, err := ex.ExecContext(ctx, strings.Join(sqls, ";\n"), nil)
		if err != nil {
			return err
		}
		mr, ok := res.(mysql.Result)
		if !ok {
			return fmt.Errorf("the target's driver result %T does not count rows per statement", res)
		}
		affected = mr.AllRowsAffected()
		return nil
	})
	if err == nil && len(affected) != len(sqls) {
		err = fmt.Errorf("the target reported %d results for %d statements", len(affected), len(sqls))
	}
	if err != nil {
		if len(sqls) > len(stmts) {
			// The statements after the failed one did not run.
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), common.restore); rerr != nil {
				err = fmt.Errorf("%w; and then setting the session back failed: %w", err, rerr)
			}
		}
		return stmts[0], &RowsError{Event: stmts[0].Event, Err: withEvents(err, stmts)}
	}
	if len(sqls) > len(stmts) {
		affected = affected[1 : len(affected)-1]
	}
	last := lastGroup(stmts)
	for i, s := range stmts {
		if i < last && affected[i] < s.Check.Rows && s.Check.Found != "" {
			return s, fmt.Errorf("%w (%s at %s)", ErrRepack, s.Event.TypeName, s.Event.Pos)
		}
		if err := checkRows(ctx, conn, s, affected[i]); err != nil {
			return s, &RowsError{Event: s.Event, Err: withEvents(err, stmts[i:i+1])}
		}
	}
	return nil, nil
}

// minCommonStatements is how many statements of a packet must carry the
// common SET STATEMENT prefix for ExecChecked to send them without it, in
// the session's settings (commonSettings).
const minCommonStatements = 4

// commonSettings are the settings of the SET STATEMENT prefix that most
// statements of the SQL apply path carry (no event flags, strict, no
// timestamp): a prefix that costs the server about as much as the
// statement it sets (the settings are set and put back for each). Where
// enough statements of a packet carry it, ExecChecked sends them without
// it, between a statement that saves the session's own values of these
// settings and gives it the prefix's (save) and one that puts them back
// (restore), so that what runs on the session after the packet sees the
// session as it was. The values are kept in user variables named
// @_binlog_replay_<setting>, set back to NULL by restore.
type commonSettings struct {
	prefix, save, restore string
}

// newCommonSettings returns the commonSettings of prefixKey{}.
func newCommonSettings() commonSettings {
	settings := settingsFor(prefixKey{})
	var keep, set, back, unset []string
	for _, s := range settings {
		name, value, _ := strings.Cut(s, "=")
		v := "@_binlog_replay_" + name
		keep = append(keep, v+" = @@session."+name)
		set = append(set, "@@session."+name+" = "+value)
		back = append(back, "@@session."+name+" = "+v)
		unset = append(unset, v+" = NULL")
	}
	// A SET evaluates every value before it assigns any: the first
	// assignments read the values the later ones replace.
	return commonSettings{prefix: setStatementFor(prefixKey{}),
		save:    "SET " + strings.Join(append(keep, set...), ", "),
		restore: "SET " + strings.Join(append(back, unset...), ", ")}
}

// packet returns the statements that send stmts in one packet: their SQL,
// or, where at least minCommonStatements of them carry the common prefix,
// their SQL without it between c.save and c.restore.
func (c commonSettings) packet(stmts []*Stmt) []string {
	n := 0
	for _, s := range stmts {
		if strings.HasPrefix(s.SQL, c.prefix) {
			n++
		}
	}
	if n < minCommonStatements {
		sqls := make([]string, len(stmts))
		for i, s := range stmts {
			sqls[i] = s.SQL
		}
		return sqls
	}
	sqls := make([]string, 0, len(stmts)+2)
	sqls = append(sqls, c.save)
	for _, s := range stmts {
		sqls = append(sqls, strings.TrimPrefix(s.SQL, c.prefix))
	}
	return append(sqls, c.restore)
}

// lastGroup returns the index in stmts of the first statement of the last
// packet group (see Stmt.Check): the statements from there on change
// nothing that a Found query of the group looks at, so the queries may run
// after the packet; those of earlier groups may not.
func lastGroup(stmts []*Stmt) int {
	for i := len(stmts) - 1; i > 0; i-- {
		if stmts[i].Alone || stmts[i].Event != stmts[i-1].Event {
			return i
		}
	}
	return 0
}

// withEvents adds to err the row events stmts apply, when they are more
// than the one the error names (their Event).
func withEvents(err error, stmts []*Stmt) error {
	var events []*txn.Event
	for _, s := range stmts {
		if s.Check == nil {
			continue
		}
		for _, e := range s.Check.Events {
			if n := len(events); n == 0 || events[n-1] != e {
				events = append(events, e)
			}
		}
	}
	if len(events) < 2 && (len(events) == 0 || events[0] == stmts[0].Event) {
		return err
	}
	first, last := events[0], events[len(events)-1]
	if len(events) == 1 {
		return fmt.Errorf("%w (rows of %s at %s)", err, first.TypeName, first.Pos)
	}
	return fmt.Errorf("%w (rows of %d row events, %s at %s to %s at %s)", err, len(events),
		first.TypeName, first.Pos, last.TypeName, last.Pos)
}

// SQLRowEvents counts the row events that stmts apply as SQL (the
// statements with Check set).
func SQLRowEvents(stmts []Stmt) uint64 {
	var n uint64
	var last *txn.Event
	for i := range stmts {
		if c := stmts[i].Check; c != nil {
			for _, e := range c.Events {
				if e != last {
					n++
					last = e
				}
			}
		}
	}
	return n
}

// checkRows checks that s changed the rows it must: n rows reported, or,
// for an UPDATE that changed fewer, its rows all found (the others already
// held their after images).
func checkRows(ctx context.Context, conn *sql.Conn, s *Stmt, n int64) error {
	if n == s.Check.Rows {
		return nil
	}
	if n < s.Check.Rows && s.Check.Found != "" {
		var found int64
		if err := conn.QueryRowContext(ctx, s.Check.Found).Scan(&found); err != nil {
			return fmt.Errorf("look for the updated rows: %w", err)
		}
		if found >= s.Check.Rows {
			return nil // the rows not changed already held their after images
		}
	}
	if n < s.Check.Rows {
		return fmt.Errorf("%w: the statement changed %d of %d rows (the target lacks a row the source had)", ErrRowNotFound, n, s.Check.Rows)
	}
	return fmt.Errorf("the statement changed %d rows, want %d", n, s.Check.Rows)
}

// ExecExpect runs the check s.Expect on conn and returns a *RowsError
// naming s's event (wrapping ErrRowDiffers) when the rows are not as
// expected: the problem, how many rows, and the first rows that differ.
func ExecExpect(ctx context.Context, conn *sql.Conn, s *Stmt) error {
	x := s.Expect
	var got int64
	if err := conn.QueryRowContext(ctx, x.Query).Scan(&got); err != nil {
		return &RowsError{Event: s.Event, Err: fmt.Errorf("check the rows on the target: %w", err)}
	}
	if got == x.Want {
		return nil
	}
	var keys []string
	bad := 0
	for _, p := range x.Probes {
		var n int64
		if err := conn.QueryRowContext(ctx, p.Query).Scan(&n); err != nil {
			return &RowsError{Event: s.Event, Err: fmt.Errorf("check the rows on the target: %w", err)}
		}
		if n == p.Want {
			continue
		}
		if bad++; len(keys) < maxNamedRows {
			keys = append(keys, p.Key)
		}
	}
	which := ""
	if len(keys) > 0 {
		which = ": " + strings.Join(keys, "; ")
		if bad > len(keys) {
			which += fmt.Sprintf("; and %d more", bad-len(keys))
		}
	}
	return &RowsError{Event: s.Event, Err: fmt.Errorf("%w: %s (%d of %d rows%s)", ErrRowDiffers, x.Problem, max(bad, 1), len(x.Probes), which)}
}

// maxNamedRows bounds the rows an error of ExecExpect names.
const maxNamedRows = 5
