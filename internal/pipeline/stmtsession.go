package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/temptables"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// stmtSession is the session statement-format, DDL and streamed groups run
// on, one at a time (mu), whichever worker picked them up: temporary
// tables and session state carry from one to the next as on the source.
// With source GTIDs kept, each MariaDB GTID domain has a session of its
// own: a session holding temporary tables may not change its
// gtid_domain_id in statement format (error 1953), and a source session
// holding them could not either, so each temporary table lives in one
// domain's session. A source session may change its domain holding them
// in row format, though: its statements then stay on the session that
// holds its tables (stmtHomes), which switches to row format to change
// its domain, as the source's did (worker.followDomain). Otherwise each
// source server id has a session of its own (stmtKeyOf).
type stmtSession struct {
	mu sync.Mutex
	// spare is the session Run opens before the first statement group
	// (so that a target refusing it fails the run at once), given to the
	// first domain that needs one.
	spare    *worker
	sessions map[stmtKey]*worker
	opened   []*worker // every one, closed by Run
	// switched is set once a session changed its domain holding
	// temporary tables (said once in the log).
	switched bool
}

// stmtState is what a statement session's worker knows of its session.
type stmtState struct {
	// domain is the GTID domain the session's last group was logged in.
	domain uint32
	// holds says the session holds temporary tables after its last group.
	holds bool
	// restore is the binlog format to set again once the session holds
	// no temporary tables, "" unless followDomain switched it to ROW.
	restore string
}

// stmtHomes follows, in the dispatcher, which statement session (see
// stmtKeyOf) holds the temporary tables of each source session. The zero
// value is ready to use.
type stmtHomes struct {
	home map[txn.Session]stmtKey // source session → statement session
}

// stmtKey names a statement session: by GTID domain when the source's
// MariaDB GTIDs are kept, else by source server id (see stmtKeyOf).
type stmtKey struct {
	domain, server uint32
}

// stmtKeyOf names the statement session t runs on when its source session
// holds no temporary tables. A server scopes temporary tables by server id
// and thread id (pseudo_thread_id). Keeping MariaDB GTIDs, each
// transaction sets its server id on the session (target.GTIDStatement), as
// a replica's SQL thread does, and each domain has a session. Otherwise
// the target session keeps its own server id, so each source server id (a
// multi-source replica's masters, a session's SET server_id) has a session
// of its own: in one, two source sessions of one thread id would share
// their temporary tables.
func (p *Pipeline) stmtKeyOf(t *txn.Txn) stmtKey {
	if p.cfg.KeepGTIDs && t.GTID.Flavor == txn.FlavorMariaDB {
		return stmtKey{domain: t.GTID.Domain}
	}
	return stmtKey{server: t.ServerID}
}

// stmtDomain is the GTID domain a statement session logs t in: its
// GTID's when source GTIDs are kept, else 0.
func (p *Pipeline) stmtDomain(t *txn.Txn) uint32 {
	return p.stmtKeyOf(t).domain
}

// sourceSession returns the source session of t's statements.
func sourceSession(t *txn.Txn) (txn.Session, bool) {
	if e, ok := firstQuery(t); ok {
		return t.SessionOf(e.Query), true
	}
	return txn.Session{}, false
}

// firstQuery returns t's first statement event.
func firstQuery(t *txn.Txn) (*txn.Event, bool) {
	for i := range t.Events {
		if t.Events[i].Query != nil {
			return &t.Events[i], true
		}
	}
	return nil, false
}

// followStatements follows t's statements (the temporary tables they
// create and drop) and sets g's statement session: the one holding the
// temporary tables of t's source session if it holds some, else the one
// of t's domain. When one of t's statements uses a temporary table
// created before the binlogs read, or is a disconnect drop whose tables
// cannot be told, g is refused (g.refused). Of a transaction read in
// pieces only the first is checked so: the group is under way when the
// next ones come. Dispatch only.
func (p *Pipeline) followStatements(g *group, t *txn.Txn) {
	sess, ok := sourceSession(t)
	g.session = p.stmtKeyOf(t)
	if home, held := p.homes.home[sess]; ok && held {
		g.session = home
	}
	before, unsure, ended := p.followPiece(g, t)
	g.ended = ended
	switch {
	case before != nil:
		g.refused = p.tempBeforeStart(t, before)
	case unsure != nil:
		g.refused = p.tempUnsure(t, unsure)
	}
}

// followPiece follows the statements of t, g's transaction or one of its
// pieces, and records where its source session's temporary tables are
// and whether g's session holds some after it. It returns the first
// statement of t that uses a temporary table created before the binlogs
// read and the first disconnect drop whose tables cannot be told
// (temptables.Tables.Apply), and the drops of the tables of other
// sessions that t's disconnect drops ended (see dropEnded). Dispatch only.
func (p *Pipeline) followPiece(g *group, t *txn.Txn) (before, unsure *txn.Query, drops []endedDrop) {
	before, ended, unsure := p.temps.Apply(t)
	drops = p.endedDrops(t, ended)
	for _, e := range ended {
		if !p.temps.Holds(e.Session) {
			delete(p.homes.home, e.Session)
		}
	}
	for i := range drops {
		drops[i].holds = p.homesOn(drops[i].key)
	}
	for i := range t.Events {
		if q := t.Events[i].Query; q != nil {
			uniqueDisconnectDrop(q)
		}
	}
	if sess, ok := sourceSession(t); ok {
		if p.temps.Holds(sess) {
			if p.homes.home == nil {
				p.homes.home = map[txn.Session]stmtKey{}
			}
			p.homes.home[sess] = g.session
		} else {
			delete(p.homes.home, sess)
		}
	}
	g.sessionHolds = p.homesOn(g.session)
	return before, unsure, drops
}

// homesOn reports whether statement session key holds the temporary
// tables of a source session. Dispatch only.
func (p *Pipeline) homesOn(key stmtKey) bool {
	for _, k := range p.homes.home {
		if k == key {
			return true
		}
	}
	return false
}

// stmtWorker returns the statement session g runs on (g.session), opening
// it the first time. The caller holds p.stmt.mu.
func (p *Pipeline) stmtWorker(ctx context.Context, g *group) (*worker, error) {
	s := &p.stmt
	if w := s.sessions[g.session]; w != nil {
		return w, nil
	}
	w := s.spare
	if w != nil {
		s.spare = nil
	} else {
		var err error
		if w, err = p.openStmtWorker(ctx); err != nil {
			return nil, err
		}
	}
	if s.sessions == nil {
		s.sessions = map[stmtKey]*worker{}
	}
	s.sessions[g.session] = w
	return w, nil
}

// openStmtWorker opens a statement session. The caller holds p.stmt.mu,
// or is Run before the workers start.
func (p *Pipeline) openStmtWorker(ctx context.Context) (*worker, error) {
	w, err := p.newWorker(ctx)
	if err != nil {
		return nil, err
	}
	w.stmt = &stmtState{}
	p.stmt.opened = append(p.stmt.opened, w)
	if err := w.logStatementsAsSource(ctx, len(p.stmt.opened) == 1); err != nil {
		return nil, err
	}
	return w, nil
}

// applyStatements applies g on statement session w. The caller holds
// p.stmt.mu.
func (w *worker) applyStatements(ctx context.Context, g *group) error {
	if err := w.followDomain(ctx, g); err != nil {
		return err
	}
	if err := w.apply(ctx, g); err != nil {
		return err
	}
	st := w.stmt
	st.domain, st.holds = w.p.stmtDomain(g.txns[0]), g.sessionHolds
	if st.restore == "" || st.holds {
		return nil
	}
	if err := w.sess.Run(ctx, "SET SESSION binlog_format='"+st.restore+"'"); err != nil {
		return fmt.Errorf("set the statement session's binlog format back to %s once it holds no temporary table: %w", st.restore, err)
	}
	st.restore = ""
	return nil
}

// followDomain readies statement session w for g: a session holding
// temporary tables may change its gtid_domain_id in row format only (in
// statement or mixed format: error 1953), as on the source, whose session
// changed its domain so; the session stays in row format until it holds
// none (the server does not let it go back before: error 1559).
func (w *worker) followDomain(ctx context.Context, g *group) error {
	st := w.stmt
	if !st.holds || st.restore != "" || w.p.stmtDomain(g.txns[0]) == st.domain {
		return nil
	}
	conn := w.sess.Conn()
	if conn == nil {
		return nil
	}
	var format string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.binlog_format").Scan(&format); err != nil {
		return fmt.Errorf("read the statement session's binlog format: %w", err)
	}
	if strings.EqualFold(format, "ROW") {
		return nil
	}
	if err := w.sess.Run(ctx, "SET SESSION binlog_format='ROW'"); err != nil {
		return fmt.Errorf("switch the statement session to row format to change its GTID domain holding temporary tables: %w", err)
	}
	st.restore = format
	if !w.p.stmt.switched {
		w.p.stmt.switched = true
		w.p.logf("a source session changed its GTID domain holding temporary tables (at %s): the target session "+
			"holding them logs in row format until it holds none, as the source's did", g.txns[0].Start.Named(g.txns[0].GTID.String()))
	}
	return nil
}

// tempBeforeStart is the refusal of t, whose statement q uses a temporary
// table its source session created before the binlogs read
// (temptables.Tables.Apply).
func (p *Pipeline) tempBeforeStart(t *txn.Txn, q *txn.Query) error {
	return p.refuseStatement(t, q, fmt.Errorf("the source flagged this statement as using a temporary table (or CONNECTION_ID()), and its "+
		"session (thread %d of server %d) created no temporary table it names in the binlogs read: it uses a temporary table created "+
		"before the start point (a base backup taken while the session held it, a start position after its CREATE, or "+
		"the CREATE's transaction skipped). On the target it would fail, or write a permanent table of the same name. "+
		"Nothing of this transaction was applied; every transaction before it was. Replay from a base and start point "+
		"where no session held temporary tables (an earlier base, or one taken when the sessions that use them had ended)",
		q.ThreadID, t.ServerID))
}

// tempUnsure is the refusal of t, whose disconnect drop q names a
// temporary table once more than its own session holds, while more
// sessions of its thread id under other server ids hold one
// (txn.EndDisconnected).
func (p *Pipeline) tempUnsure(t *txn.Txn, q *txn.Query) error {
	return p.refuseStatement(t, q, fmt.Errorf("the source logged this drop of the temporary tables of a connection that ended "+
		"(thread %d, last under server %d); it names tables the connection held under other server ids too, and more "+
		"sessions of thread %d under other server ids hold tables of those names than it names (%s): which of them it "+
		"ended cannot be told, and one left open would take the place of a permanent table of its name, one dropped "+
		"would be missing. Nothing of this transaction was applied; every transaction before it was",
		q.ThreadID, t.ServerID, q.ThreadID, p.temps.String()))
}

// refuseStatement is the refusal (err) of t at its statement q, an
// ApplyError naming the statement and its event.
func (p *Pipeline) refuseStatement(t *txn.Txn, q *txn.Query, err error) error {
	s := &sqlgen.Stmt{SQL: strings.TrimSpace(string(q.SQL))}
	for i := range t.Events {
		if t.Events[i].Query == q {
			s.Event = &t.Events[i]
		}
	}
	return p.applyError(t, s, err)
}

// endedDrop drops, on the statement session key, the temporary tables of
// a source session that a disconnect drop logged under another server id
// ended: drop is that session's DROP TEMPORARY TABLE (see dropEnded), and
// holds says whether the statement session holds temporary tables after
// it.
type endedDrop struct {
	key   stmtKey
	drop  *txn.Txn
	holds bool
}

// endedDrops returns the drops, one per source session, of the tables of
// ended, which t's disconnect drop ended: each session's DROP TEMPORARY
// TABLE IF EXISTS, in the context of t's statement (its default database,
// thread id and session settings) under the session's server id, to run
// on the statement session holding its tables. Dispatch only, before
// their sessions' homes are forgotten.
func (p *Pipeline) endedDrops(t *txn.Txn, ended []temptables.Ended) []endedDrop {
	first, _ := firstQuery(t)
	var out []endedDrop
	for len(ended) > 0 {
		sess := ended[0].Session
		var names []string
		rest := ended[:0:0]
		for _, e := range ended {
			if e.Session == sess {
				names = append(names, sqlgen.QuoteIdent(e.Name.Schema)+"."+sqlgen.QuoteIdent(e.Name.Table))
			} else {
				rest = append(rest, e)
			}
		}
		ended = rest
		key, held := p.homes.home[sess]
		if !held || first == nil {
			continue // never applied on the target: nothing there to drop
		}
		q := *first.Query
		q.SQL = []byte("DROP TEMPORARY TABLE IF EXISTS " + strings.Join(names, ", "))
		q.ThreadID = sess.Thread
		ev := *first
		ev.Query = &q
		drop := *t
		drop.Events = []txn.Event{ev}
		drop.ServerID = sess.Server
		drop.GTID.Server = sess.Server
		out = append(out, endedDrop{key: key, drop: &drop})
	}
	return out
}

// uniqueDisconnectDrop names each table of q once when q is a disconnect
// drop naming one several times (txn.IsDisconnectDrop: a connection that
// held tables of one name under several server ids). No session can run
// it as logged (error 1066, not unique table): the statement session
// applying it holds the tables of its own server id only, and those of
// the others are dropped where they live (dropEnded).
func uniqueDisconnectDrop(q *txn.Query) {
	if !txn.IsDisconnectDrop(q.SQL) {
		return
	}
	names, ok := schema.DDLTables(q.SQL, q.Schema)
	if !ok {
		return
	}
	seen := map[schema.Name]bool{}
	var unique []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			unique = append(unique, sqlgen.QuoteIdent(n.Schema)+"."+sqlgen.QuoteIdent(n.Table))
		}
	}
	if len(unique) < len(names) {
		q.SQL = []byte("DROP /*!40005 TEMPORARY */ TABLE IF EXISTS " + strings.Join(unique, ","))
	}
}

// dropEnded drops, where they live on the target, the temporary tables of
// other source sessions that g's disconnect drop ended (g.ended): on the
// statement session holding them, in their session's context. Keeping
// source GTIDs, the statement session sets the source session's server id
// first (the target scopes its tables by it, as the source did), and the
// drop stays out of the target's binlog, as the source logged none apart
// (logged, it would take a GTID of the source's domain). Otherwise it is
// logged, as the target logged their CREATE. The caller holds p.stmt.mu.
func (p *Pipeline) dropEnded(ctx context.Context, g *group) error {
	for _, d := range g.ended {
		w := p.stmt.sessions[d.key]
		if w == nil {
			continue // closed since (the source restarted): the tables with it
		}
		t := d.drop
		body, err := p.deps.Gen.AppendBody(ctx, nil, t)
		if err != nil {
			return p.applyError(t, sqlgen.FailedEvent(err), err)
		}
		unlogged := p.cfg.KeepGTIDs && t.GTID.Flavor == txn.FlavorMariaDB
		if unlogged {
			body = append([]sqlgen.Stmt{{SQL: fmt.Sprintf("SET SESSION sql_log_bin=0, SESSION server_id=%d", t.ServerID)}}, body...)
		}
		body = append(body, sqlgen.Stmt{SQL: "COMMIT"})
		if unlogged {
			body = append(body, sqlgen.Stmt{SQL: "SET SESSION sql_log_bin=1"})
		}
		for i := range body {
			body[i].Txn = t
		}
		if err := w.exec(ctx, body); err != nil {
			if unlogged {
				if rerr := w.sess.Run(context.WithoutCancel(ctx), "ROLLBACK; SET SESSION sql_log_bin=1"); rerr != nil {
					p.logf("could not set sql_log_bin back to 1 on a statement session after %v: %v", err, rerr)
				}
			}
			return fmt.Errorf("drop the temporary tables a disconnect drop ended of session %d of server %d: %w",
				t.Events[0].Query.ThreadID, t.ServerID, err)
		}
		w.stmt.holds = d.holds
	}
	return nil
}

// stmtReset is what a restart of the source ended (txn.Txn.ServerRestarted):
// the statement sessions (keys) holding the temporary tables of its
// sessions, which a statement group closes before it runs (group.reset).
type stmtReset struct {
	keys   map[stmtKey]bool
	at     txn.Position // the first transaction after the restart
	tables string       // the temporary tables ended
}

// sourceRestarted follows a restart of the source before t (the first
// transaction after it): every session that held temporary tables ended
// without logging their drop, so, as a replica does, the replay drops
// them: it forgets them, and the next statement group closes the target
// sessions holding them (see closeStmtSessions). Left open, they would
// take the place of the permanent tables of their names in the statements
// of a later session given the same thread id by the restarted server.
// Dispatch only.
func (p *Pipeline) sourceRestarted(t *txn.Txn) {
	if len(p.homes.home) > 0 {
		if p.reset == nil {
			p.reset = &stmtReset{at: t.Start, keys: map[stmtKey]bool{}}
		}
		for _, k := range p.homes.home {
			p.reset.keys[k] = true
		}
		p.reset.tables = strings.TrimPrefix(p.reset.tables+", "+p.temps.String(), ", ")
	}
	p.temps.Restarted()
	p.homes.home = nil
}

// closeStmtSessions closes the statement sessions r names, whose
// temporary tables a restart of the source ended. Keeping source GTIDs,
// their drop stays out of the target's binlog (target.Session.Close), as
// a replica drops them without logging: the source logged none. The
// caller holds p.stmt.mu.
func (p *Pipeline) closeStmtSessions(r *stmtReset) {
	for k := range r.keys {
		w := p.stmt.sessions[k]
		if w == nil {
			continue
		}
		w.sess.Close()
		delete(p.stmt.sessions, k)
		p.stmt.opened = slices.DeleteFunc(p.stmt.opened, func(o *worker) bool { return o == w })
	}
	p.logf("the source restarted before %s: its sessions ended, and their temporary tables (%s) with them; "+
		"closed the target sessions holding them, as a replica drops them", r.at, r.tables)
}
