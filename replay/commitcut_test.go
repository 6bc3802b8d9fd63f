package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// cutMode says where a cutProxy cuts the connection that sends the
// trigger packet.
type cutMode int

const (
	// cutAfter forwards the packet, lets the server answer it, and closes
	// the client's side without passing the answer on: the server
	// committed, the client cannot know.
	cutAfter cutMode = iota
	// cutBefore closes both sides without forwarding it: the server rolls
	// back.
	cutBefore
	// cutBeforeServerUnaware resets the client's side without forwarding
	// it and leaves the server's side open, as a network partition the
	// server has not noticed: its session stays idle in the transaction,
	// holding its locks.
	cutBeforeServerUnaware
	// cutAllServerUnaware does the same to every connection open through
	// the proxy, as the replay host losing power or a partition of the
	// whole host does: the server keeps every session (the one holding the
	// replay lock too). Later connections go through again.
	cutAllServerUnaware
)

// cutProxy forwards MySQL protocol connections to a server and cuts one
// connection exactly at the n-th COM_QUERY packet that commits a group
// (the checkpoint update and COMMIT, sent together by the replay).
type cutProxy struct {
	ln     net.Listener
	server string
	mode   cutMode
	n      int
	// match, when set, picks the packets counted instead of the commits.
	match func(body []byte) bool

	mu       sync.Mutex
	conns    []*proxyConn
	seen     int
	cut      bool   // the connection was cut
	answered []byte // cutAfter: the server's answer the client never saw
	closed   chan struct{}
	wg       sync.WaitGroup
}

func newCutProxy(t *testing.T, server string, mode cutMode, n int) *cutProxy {
	t.Helper()
	return newMatchingCutProxy(t, server, mode, n, nil)
}

// newMatchingCutProxy is newCutProxy counting the COM_QUERY packets match
// picks (nil: the commits).
func newMatchingCutProxy(t *testing.T, server string, mode cutMode, n int, match func(body []byte) bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, server: server, mode: mode, n: n, match: match, closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		close(p.closed)
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.server)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{c: c, s: s, answered: make(chan struct{})}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			p.backward(pc)
		}()
		go func() {
			defer p.wg.Done()
			p.forward(pc)
		}()
	}
}

// proxyConn is one client connection and its server connection.
type proxyConn struct {
	c, s net.Conn

	mu       sync.Mutex
	cut      bool          // the client side is cut: answers are kept, not passed on
	answer   []byte        // what the server answered after the cut
	answered chan struct{} // closed once answer holds two OK packets (or the server closed)
	once     sync.Once
}

// backward copies the server's answers to the client, or keeps them once
// the client side is cut.
func (p *cutProxy) backward(pc *proxyConn) {
	defer pc.c.Close()
	defer pc.once.Do(func() { close(pc.answered) })
	buf := make([]byte, 64<<10)
	for {
		k, err := pc.s.Read(buf)
		pc.mu.Lock()
		if pc.cut {
			pc.answer = append(pc.answer, buf[:k]...)
			if okPackets(pc.answer) >= 2 {
				pc.once.Do(func() { close(pc.answered) })
			}
		} else if k > 0 {
			if _, werr := pc.c.Write(buf[:k]); werr != nil && err == nil {
				err = werr
			}
		}
		pc.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// forward copies client packets to the server until the trigger.
func (p *cutProxy) forward(pc *proxyConn) {
	defer pc.s.Close()
	defer pc.c.Close()
	for {
		var head [4]byte
		if _, err := io.ReadFull(pc.c, head[:]); err != nil {
			p.holdIfCut(pc)
			return
		}
		n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
		packet := make([]byte, 4+n)
		copy(packet, head[:])
		if _, err := io.ReadFull(pc.c, packet[4:]); err != nil {
			p.holdIfCut(pc)
			return
		}
		if p.trigger(packet[4:]) {
			switch p.mode {
			case cutAfter:
				p.cutAfterForwarding(pc, packet)
			case cutBeforeServerUnaware:
				pc.cutClient()
				<-p.closed // the server's side stays open until the test ends
			case cutAllServerUnaware:
				p.mu.Lock()
				conns := append([]*proxyConn(nil), p.conns...)
				p.mu.Unlock()
				for _, c := range conns {
					c.cutClient()
				}
				<-p.closed
			}
			return // both sides close
		}
		if _, err := pc.s.Write(packet); err != nil {
			return
		}
	}
}

// cutClient resets the client's side of pc, as a network cut looks to the
// client, and leaves the server's side open.
func (pc *proxyConn) cutClient() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if !pc.cut {
		pc.cut = true
		pc.c.(*net.TCPConn).SetLinger(0)
		pc.c.Close()
	}
}

// cutAll resets the client's side of every connection open through p and
// leaves the server's sides open, as the replay host losing power looks to
// the server; later connections go through.
func (p *cutProxy) cutAll() {
	p.mu.Lock()
	p.cut = true
	conns := append([]*proxyConn(nil), p.conns...)
	p.mu.Unlock()
	for _, c := range conns {
		c.cutClient()
	}
}

// holdIfCut keeps the server's side of pc open until the test ends when
// its client's side was cut.
func (p *cutProxy) holdIfCut(pc *proxyConn) {
	pc.mu.Lock()
	cut := pc.cut
	pc.mu.Unlock()
	if cut {
		<-p.closed
	}
}

// trigger reports whether packet body is the commit to cut at.
func (p *cutProxy) trigger(body []byte) bool {
	// match runs under the lock: the connections forward at once, and a
	// match may keep state.
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(body) == 0 || body[0] != 0x03:
		return false
	case p.match != nil:
		if !p.match(body[1:]) {
			return false
		}
	case !bytes.Contains(body, []byte("`binlog_replay`.`checkpoint`")) || !bytes.HasSuffix(body, []byte("COMMIT")):
		return false
	}
	p.seen++
	if p.seen != p.n || p.cut {
		return false
	}
	p.cut = true
	return true
}

// cutAfterForwarding resets the client's side, sends packet to the server
// and waits for its answer (an OK for the checkpoint update, then one for
// COMMIT), which it keeps to prove the commit happened.
func (p *cutProxy) cutAfterForwarding(pc *proxyConn, packet []byte) {
	pc.mu.Lock()
	pc.cut = true
	pc.c.(*net.TCPConn).SetLinger(0) // a reset, as a network cut looks to the client
	pc.c.Close()
	pc.mu.Unlock()
	if _, err := pc.s.Write(packet); err == nil {
		select {
		case <-pc.answered:
		case <-time.After(10 * time.Second):
		}
	}
	pc.mu.Lock()
	p.mu.Lock()
	p.answered = append([]byte(nil), pc.answer...)
	p.mu.Unlock()
	pc.mu.Unlock()
}

// okPackets counts the complete OK packets at the start of b.
func okPackets(b []byte) int {
	n := 0
	for len(b) >= 4 {
		size := int(binary.LittleEndian.Uint32(append(b[:3:3], 0)))
		if len(b) < 4+size || size == 0 || b[4] != 0x00 {
			return n
		}
		n++
		b = b[4+size:]
	}
	return n
}

func (p *cutProxy) state() (cut bool, oks int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut, okPackets(p.answered)
}

// counterScenario has units pairs of transactions: a row-format insert of
// row i into cc.r, then a statement-format update adding 1 to the counter
// cc.c.n. A transaction applied twice fails on a duplicate key (row) or
// counts twice (statement).
func counterScenario(t *testing.T, units int) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE cc", "CREATE TABLE cc.r (id INT PRIMARY KEY, v INT)",
				"CREATE TABLE cc.c (id INT PRIMARY KEY, n INT)", "INSERT INTO cc.c VALUES (1, 0)")
		},
		func(ctx context.Context, db *sql.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			for i := 1; i <= units; i++ {
				for _, q := range []string{
					"SET SESSION binlog_format = 'ROW'",
					fmt.Sprintf("INSERT INTO cc.r VALUES (%d, %d)", i, i),
					"SET SESSION binlog_format = 'STATEMENT'",
					"UPDATE cc.c SET n = n + 1 WHERE id = 1",
				} {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

// TestConnectionCutAtCommit cuts the replay's connection exactly at the
// COMMIT of a group, once just after the server received it (it commits,
// the replay never hears so) and once just before (nothing committed), on
// a row-format and on a statement-format transaction: the replay must
// reconnect, read the checkpoint to learn which, and end equal to the
// source with every transaction applied once (a statement applied twice
// would add to a counter twice; a row transaction applied twice would fail
// on a duplicate key) and counted once in the summary. The cuts at a row
// transaction's COMMIT are also made with row events applied as SQL.
func TestConnectionCutAtCommit(t *testing.T) {
	const units = 40
	sc := counterScenario(t, units)
	total := len(scenarioTxns(t, sc))
	if total != 2*units {
		t.Fatalf("%d transactions, want %d", total, 2*units)
	}
	for _, c := range []struct {
		name  string
		mode  cutMode
		nth   int // commits alternate: odd ones are row transactions, even ones statements
		apply replay.ApplyMode
	}{
		{"after COMMIT, row transaction", cutAfter, 11, replay.ApplyBinlog},
		{"after COMMIT, statement", cutAfter, 12, replay.ApplyBinlog},
		{"before COMMIT, row transaction", cutBefore, 11, replay.ApplyBinlog},
		{"before COMMIT, statement", cutBefore, 12, replay.ApplyBinlog},
		{"before COMMIT, row transaction, the server unaware", cutBeforeServerUnaware, 11, replay.ApplyBinlog},
		{"before COMMIT, row transaction, every connection cut, the server unaware", cutAllServerUnaware, 11, replay.ApplyBinlog},
		{"after COMMIT, row transaction, apply=sql", cutAfter, 11, replay.ApplySQL},
		{"before COMMIT, row transaction, apply=sql", cutBefore, 11, replay.ApplySQL},
		{"before COMMIT, row transaction, the server unaware, apply=sql", cutBeforeServerUnaware, 11, replay.ApplySQL},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), c.mode, c.nth)
			o := withApply(opts(4), c.apply)
			o.Apply.GroupTxns = 1     // one commit per source transaction: the n-th commit is transaction n
			o.Recovery.MaxRetries = 2 // waiting on a lock of the lost session would fail, not last
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
			o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			cut, oks := proxy.state()
			if !cut || !strings.Contains(log.String(), "lost the target") {
				t.Fatalf("the connection was not cut at commit %d (cut %v)\nlog:\n%s", c.nth, cut, log.String())
			}
			if c.mode == cutAfter && oks != 2 {
				t.Fatalf("the server answered the cut commit with %d OK packets, want 2 (checkpoint update and COMMIT)", oks)
			}
			// Every session left on the server, the one holding the replay
			// lock too: the process knows it as its own and ends it without
			// waiting for it to look lost.
			if c.mode == cutAllServerUnaware && (!strings.Contains(log.String(), "which held the target's replay lock") ||
				strings.Contains(log.String(), "waiting until")) {
				t.Fatalf("the reconnection did not end the process's own lock session at once\nlog:\n%s", log.String())
			}
			t.Logf("log:\n%s", log.String())
			checkApplied(t, o, sum, log.String())
			replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
			cp, err := replay.ReadCheckpoint(context.Background(), db)
			if err != nil || cp == nil || cp.Applied != uint64(total) || sum.Applied != uint64(total) {
				t.Fatalf("checkpoint %+v (%v), summary applied %d: want %d transactions", cp, err, sum.Applied, total)
			}
		})
	}
}

// TestResumeEndsLostRunSessions loses the target the way a network
// partition or the replay host losing power does: the connection of the
// worker committing transaction 11 is reset on the replay's side, and the
// server keeps its session, idle in its transaction and holding the row
// lock of transaction 11, until wait_timeout. The run ends with the error
// (no reconnection). A fresh run refuses the target's checkpoint and must
// not end anything; then a new run with --resume, in a new process as far
// as it knows (fresh Options, connected directly), must find the lost
// session recorded on the target, end it, and finish with every
// transaction applied once. Without the recorded sessions it waits on the
// lost session's lock and gives up after its retries.
//
// Cut one connection, the process still closes the others, the session
// holding the replay lock with them: the resume takes the lock at once.
// Cut every connection (the host lost), the server keeps the lost run's
// lock session too, idle: the fresh run is refused naming it, and the
// resume waits until it has been idle for the staleness threshold (10 s),
// then ends it with the other sessions (without the threshold it would be
// refused as a live run's; without the lock, nothing tells).
func TestResumeEndsLostRunSessions(t *testing.T) {
	t.Run("one connection cut", func(t *testing.T) { testResumeEndsLostRunSessions(t, cutBeforeServerUnaware) })
	t.Run("every connection cut", func(t *testing.T) { testResumeEndsLostRunSessions(t, cutAllServerUnaware) })
}

func testResumeEndsLostRunSessions(t *testing.T, mode cutMode) {
	const units = 20
	ctx := context.Background()
	sc := counterScenario(t, units)
	total := len(scenarioTxns(t, sc))
	tgt, db := sc.Target(t)
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), mode, 11)
	newOptions := func() replay.Options {
		o := opts(4)
		o.Apply.GroupTxns = 1     // one commit per source transaction: the n-th commit is transaction n
		o.Recovery.MaxRetries = 2 // waiting on a lock of the lost session fails, in about 3 s
		o.Recovery.LockWaitTimeout = time.Second
		o.Recovery.Reconnect = 0
		o.Files, o.TargetDSN = sc.Files, tgt.DSN("")
		return o
	}

	o := newOptions()
	o.Select.StartPosition = sc.Start
	o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
	var log strings.Builder
	if _, err := replay.Run(ctx, o, &log); err == nil {
		t.Fatalf("the first run ended without error\nlog:\n%s", log.String())
	}
	if cut, _ := proxy.state(); !cut {
		t.Fatalf("the connection was not cut at commit 11\nlog:\n%s", log.String())
	}
	// The lost sessions: the one cut at commit 11 or, the host lost, every
	// session the run recorded that the server still has.
	var lost []uint64
	var lockHolder uint64
	if mode == cutBeforeServerUnaware {
		lost = []uint64{lostSession(t, db)}
		if holder := replayLockHolder(t, db); holder != 0 {
			t.Fatalf("connection %d still holds the replay lock after the run ended", holder)
		}
	} else {
		lost = liveSessions(t, db, recordedSessions(t, db))
		lockHolder = replayLockHolder(t, db)
		if lockHolder == 0 || !slices.Contains(lost, lockHolder) {
			t.Fatalf("the replay lock is held by connection %d, want one of the lost run's recorded sessions %v", lockHolder, lost)
		}
	}
	for _, id := range lost {
		if !slices.Contains(recordedSessions(t, db), id) {
			t.Fatalf("the lost session %d is not recorded in binlog_replay.sessions", id)
		}
	}
	before, err := replay.ReadCheckpoint(ctx, db)
	if err != nil || before == nil || before.Applied != 10 {
		t.Fatalf("checkpoint after the cut: %+v (%v), want 10 transactions applied", before, err)
	}

	// A run that does not resume is refused (the checkpoint; the lost run's
	// replay lock) and ends nothing.
	log.Reset()
	want := "use --resume"
	if lockHolder != 0 {
		want = fmt.Sprintf("holds the target's replay lock, GET_LOCK('binlog_replay'): connection %d", lockHolder)
	}
	if _, err := replay.Run(ctx, newOptions(), &log); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a run without --resume on a target with a checkpoint: %v, want a refusal saying %q", err, want)
	}
	if strings.Contains(log.String(), "ended session") || !slices.Equal(liveSessions(t, db, lost), lost) {
		t.Fatalf("a run without --resume ended a lost session\nlog:\n%s", log.String())
	}

	o = newOptions()
	o.Recovery.Resume = true
	log.Reset()
	start := time.Now()
	sum, err := replay.Run(ctx, o, &log)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("resume after the lost run (%s): %v\nlog:\n%s", took.Round(time.Millisecond), err, log.String())
	}
	t.Logf("resumed in %s, log:\n%s", took.Round(time.Millisecond), log.String())
	for _, id := range lost {
		if want := fmt.Sprintf("ended session %d of the lost run", id); !strings.Contains(log.String(), want) {
			t.Fatalf("the log does not say %q", want)
		}
	}
	if left := liveSessions(t, db, lost); len(left) > 0 {
		t.Fatalf("sessions of the lost run still on the target: %v", left)
	}
	waited := strings.Contains(log.String(), "waiting until it has been idle for 10s")
	switch {
	case lockHolder == 0 && waited:
		t.Fatalf("the resume waited for a replay lock the lost run's process had released")
	case lockHolder != 0 && !waited:
		t.Fatalf("the resume did not say that it waits for the lost run's lock session to look lost")
	case lockHolder != 0 && !strings.Contains(log.String(), fmt.Sprintf("ended session %d of the lost run, which held the target's replay lock", lockHolder)):
		t.Fatalf("the log does not say that the lost run's lock session %d was ended", lockHolder)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
	cp, err := replay.ReadCheckpoint(ctx, db)
	if err != nil || cp == nil || cp.Applied != uint64(total) || sum.Applied != uint64(total)-before.Applied {
		t.Fatalf("checkpoint %+v (%v), resume applied %d: want %d transactions in all, %d by the resume",
			cp, err, sum.Applied, total, uint64(total)-before.Applied)
	}
	if holder := replayLockHolder(t, db); holder != 0 {
		t.Fatalf("connection %d holds the replay lock after the resume ended", holder)
	}
}

// TestResumeEndsBusyLostSession loses the replay host while one of its
// sessions runs a long statement: a statement-format UPDATE that a
// trigger on the target makes sleep 60 s. The server keeps that session
// busy, holding the row it updates. The resume must end it too, not only
// the idle ones: left alone, it holds the row until its statement ends
// (the resume's own UPDATE of that row waits, and gives up after its
// retries), then sits idle in its transaction.
func TestResumeEndsBusyLostSession(t *testing.T) {
	ctx := context.Background()
	sc := counterScenario(t, 10)
	total := len(scenarioTxns(t, sc))
	tgt, db := sc.Target(t)
	// Target only, and adding nothing to the data: the trigger sleeps while
	// the test holds a named lock (a flag in a table would be locked by
	// the sleeping statement's read of it).
	if err := replaytest.ExecAll(ctx, db, "CREATE TRIGGER cc.slow_counter BEFORE UPDATE ON cc.c FOR EACH ROW BEGIN "+
		"IF IS_USED_LOCK('test_slow') IS NOT NULL THEN DO SLEEP(60); END IF; END"); err != nil {
		t.Fatal(err)
	}
	flag, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer flag.Close()
	if _, err := flag.ExecContext(ctx, "DO GET_LOCK('test_slow', 0)"); err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutAfter, 1<<30) // cut by hand only
	newOptions := func() replay.Options {
		o := opts(2)
		o.Recovery.MaxRetries, o.Recovery.LockWaitTimeout, o.Recovery.Reconnect = 2, time.Second, 0
		o.Files, o.TargetDSN = sc.Files, tgt.DSN("")
		return o
	}
	o := newOptions()
	o.Select.StartPosition = sc.Start
	o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
	done := make(chan error, 1)
	var log strings.Builder
	go func() {
		_, err := replay.Run(ctx, o, &log)
		done <- err
	}()
	// The first counter UPDATE sleeps in the trigger: lose the host then.
	var busy uint64
	for deadline := time.Now().Add(20 * time.Second); busy == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no session of the replay sleeps in the trigger")
		}
		if ids := queryStrings(t, db, "SELECT ID FROM information_schema.PROCESSLIST WHERE STATE = 'User sleep'"); len(ids) == 1 {
			fmt.Sscan(ids[0], &busy)
		}
	}
	proxy.cutAll()
	if err := <-done; err == nil {
		t.Fatalf("the first run ended without error\nlog:\n%s", log.String())
	}
	if !slices.Contains(recordedSessions(t, db), busy) || !slices.Contains(liveSessions(t, db, []uint64{busy}), busy) {
		t.Fatalf("the busy session %d is not a recorded session still on the target", busy)
	}
	if _, err := flag.ExecContext(ctx, "DO RELEASE_LOCK('test_slow')"); err != nil {
		t.Fatal(err)
	}

	o = newOptions()
	o.Recovery.Resume = true
	log.Reset()
	start := time.Now()
	if _, err := replay.Run(ctx, o, &log); err != nil {
		t.Fatalf("resume after the lost run (%s): %v\nlog:\n%s", time.Since(start).Round(time.Millisecond), err, log.String())
	}
	t.Logf("resumed in %s, log:\n%s", time.Since(start).Round(time.Millisecond), log.String())
	if want := fmt.Sprintf("ended session %d of the lost run, still running a statement", busy); !strings.Contains(log.String(), want) {
		t.Errorf("the log does not say %q", want)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
	if cp, err := replay.ReadCheckpoint(ctx, db); err != nil || cp == nil || cp.Applied != uint64(total) {
		t.Fatalf("checkpoint %+v (%v), want %d transactions applied", cp, err, total)
	}
}

// replayLockHolder returns the connection id holding the target's replay
// lock, 0 when it is free.
func replayLockHolder(t *testing.T, db *sql.DB) uint64 {
	t.Helper()
	var id sql.NullInt64
	if err := db.QueryRow("SELECT IS_USED_LOCK('binlog_replay')").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return uint64(id.Int64)
}

// recordedSessions returns the connection ids recorded in
// binlog_replay.sessions.
func recordedSessions(t *testing.T, db *sql.DB) []uint64 {
	t.Helper()
	var ids []uint64
	for _, s := range queryStrings(t, db, "SELECT id FROM binlog_replay.sessions WHERE id <> 0 ORDER BY id") {
		var id uint64
		fmt.Sscan(s, &id)
		ids = append(ids, id)
	}
	return ids
}

// liveSessions returns those of ids that are sessions on the target, in
// order.
func liveSessions(t *testing.T, db *sql.DB, ids []uint64) []uint64 {
	t.Helper()
	var live []uint64
	for _, s := range queryStrings(t, db, "SELECT ID FROM information_schema.PROCESSLIST ORDER BY ID") {
		var id uint64
		fmt.Sscan(s, &id)
		if slices.Contains(ids, id) {
			live = append(live, id)
		}
	}
	return live
}

// lostSession waits until exactly one session on the target holds an open
// transaction (the other sessions of the lost run are closed by its
// process as it ends) and returns its connection id.
func lostSession(t *testing.T, db *sql.DB) uint64 {
	t.Helper()
	var ids []uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rows, err := db.Query("SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX")
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) == 1 {
			return ids[0]
		}
	}
	t.Fatalf("sessions with an open transaction on the target: %v, want the lost one alone", ids)
	return 0
}

// TestResumeWaitsForCommitInProgress resumes while a commit of an earlier
// run is still in progress on the target: a session holds transaction 31's
// row and the checkpoint update naming it, uncommitted, as a server does
// when the replay's connection was lost during COMMIT (or the commit waits
// for disk space). The resume must wait for that commit and continue after
// transaction 31, not read the old checkpoint and apply it a second time.
func TestResumeWaitsForCommitInProgress(t *testing.T) {
	ctx := context.Background()
	sc := twoTableScenario(t)
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
	o.Select.StopBeforeGTID = gtidOf(t, sc, 31)
	if _, err := replay.Run(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	requireStoppedAt(t, db, 30)
	// The commit in progress: transaction 31 (INSERT INTO tf.a VALUES (31))
	// and its checkpoint, in one open transaction.
	t31 := scenarioTxns(t, sc)[30]
	zombie, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Rollback()
	if _, err := zombie.Exec("INSERT INTO tf.a VALUES (31)"); err != nil {
		t.Fatal(err)
	}
	if _, err := zombie.Exec("UPDATE binlog_replay.checkpoint SET seq = 31, file = ?, pos = ?, gtid = ? WHERE channel = 'default'",
		t31.End.File, t31.End.Offset, t31.GTID.String()); err != nil {
		t.Fatal(err)
	}
	o.Select.StopBeforeGTID, o.Select.StartPosition, o.Recovery.Resume = gtidOf(t, sc, 40), txn.Position{}, true
	done := make(chan error, 1)
	go func() {
		_, err := replay.Run(ctx, o, nil)
		done <- err
	}()
	time.Sleep(time.Second) // the resume is waiting for the session
	if err := zombie.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("resume while a commit was in progress: %v", err)
	}
	requireStoppedAt(t, db, 39)
}
