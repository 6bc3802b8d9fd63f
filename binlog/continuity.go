package binlog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/txn"
)

// A server starts each binlog file with the GTID history written before it:
// MariaDB a GTID_LIST event (its binlog state: the last GTID of each domain
// and server id), MySQL 5.6+ a PREVIOUS_GTIDS event (gtid_executed). So the
// list at the start of file k+1 equals the list of file k advanced by the
// GTIDs written in file k, and the ROTATE event ending file k names file
// k+1. The reader checks both at each file boundary (continuity), which
// catches files of two servers mixed under the same names, and a file
// missing from the middle of a sequence that was renumbered.
//
// A MariaDB server restarting after a crash may write a list behind the
// history (crash.go): where a file the server did not close is followed by
// the first file of a server start, the list must only not be ahead of it.
//
// Legitimate sequences that break this, and need Options.NoContinuityCheck:
// RESET MASTER TO n (the history starts over), FLUSH BINARY LOGS
// DELETE_DOMAIN_ID (a MariaDB domain leaves the list), SET GLOBAL
// gtid_binlog_state or gtid_purged between two files. A change of server_id
// (a replica promoted) keeps continuity: the new server's binlog state
// carries the old server's entries. Files without such lists (MySQL 5.5,
// MariaDB 5.5) and MySQL files written with gtid_mode=OFF carry no history,
// so only ROTATE is checked there.

// gtidHistory is the GTID history of a binlog sequence up to a point.
type gtidHistory struct {
	// kind is the event type of the list it started from:
	// event.TypeMariaGTIDList, event.TypePreviousGTIDs, or 0 while unknown
	// (no list read).
	kind  byte
	maria map[event.MariaKey]uint64 // MariaDB: the last sequence number of each (domain, server)
	mysql txn.GTIDSet               // MySQL: every GTID
}

// add records a transaction's GTID.
func (h *gtidHistory) add(g txn.GTID) {
	switch {
	case g.IsZero():
	case g.Flavor == txn.FlavorMariaDB:
		if h.maria == nil {
			h.maria = map[event.MariaKey]uint64{}
		}
		h.maria[event.MariaKey{Domain: g.Domain, Server: g.Server}] = g.Seq
	default:
		h.mysql.Add(g)
	}
}

// set returns the history as a GTID set (MariaDB: the highest sequence
// number of each domain).
func (h *gtidHistory) set() txn.GTIDSet {
	var s txn.GTIDSet
	s.Union(h.mysql)
	for k, seq := range h.maria {
		s.Add(txn.GTID{Flavor: txn.FlavorMariaDB, Domain: k.Domain, Server: k.Server, Seq: seq})
	}
	return s
}

// clone returns a copy of h.
func (h *gtidHistory) clone() gtidHistory {
	c := gtidHistory{kind: h.kind}
	c.mysql.Union(h.mysql)
	if h.maria != nil {
		c.maria = make(map[event.MariaKey]uint64, len(h.maria))
		for k, v := range h.maria {
			c.maria[k] = v
		}
	}
	return c
}

// continuity follows the GTID history across the files a Reader reads and
// checks each file boundary.
type continuity struct {
	off       bool   // Options.NoContinuityCheck
	prevFile  string // base name of the file before the current one, "" for the first
	file      string // base name of the current file
	rotateTo  string // the file the last ROTATE named ("" if none)
	rotatePos uint64 // that ROTATE's offset
	rotateIn  string // the file holding it

	// inUse is set when the current file was not closed by its server
	// (event.Format.InUse), and restarted when the current file is the
	// first of a server start that follows such a file: a crash.
	inUse, restarted bool

	now     gtidHistory // up to the last event read
	start   gtidHistory // as of the reader's start position, once startSet
	started bool

	undo lastAdded // what the last txnStart changed in now
}

// lastAdded is what txnStart changed in a MariaDB history: the entry of
// key, which held seq (had: at all) before.
type lastAdded struct {
	key      event.MariaKey
	seq      uint64
	had, set bool
}

// beginFile is called at the format description f of each file, before
// any other of its events (notClosed: f.InUse, or any file a source
// sends, which clears the flag in what it sends): it checks that the
// ROTATE ending the previous file, if any, named this one.
func (c *continuity) beginFile(name string, f *event.Format, notClosed bool) error {
	c.restarted = c.file != "" && c.inUse && f.Created != 0
	c.inUse = notClosed
	c.prevFile, c.file = c.file, name
	rotateTo, pos, in := c.rotateTo, c.rotatePos, c.rotateIn
	c.rotateTo = ""
	if c.off || c.prevFile == "" || rotateTo == "" || in != c.prevFile || sameSequenceNumber(rotateTo, name) {
		return nil
	}
	return &event.Error{File: in, Offset: pos, EventType: event.TypeName(event.TypeRotate), Err: fmt.Errorf(
		"%s ends by naming %s as the next file, but the next file given is %s: files from different servers or a missing file? "+
			"(--no-continuity-check reads on)", in, rotateTo, name)}
}

// sameSequenceNumber reports whether binlog names a and b have the same
// number (or, without numbers, are the same name): files may have been
// renamed, keeping their numbers.
func sameSequenceNumber(a, b string) bool {
	_, na, okA := logfile.SplitName(a)
	_, nb, okB := logfile.SplitName(b)
	if okA && okB {
		return na == nb
	}
	return a == b
}

// rotate records the file a ROTATE event names.
func (c *continuity) rotate(body []byte, flags uint16, postHeader int, pos uint64) {
	if flags&event.FlagArtificial != 0 {
		return
	}
	if postHeader < 0 || postHeader > len(body) {
		postHeader = 8
	}
	if postHeader > len(body) {
		return
	}
	c.rotateTo, c.rotatePos, c.rotateIn = string(body[postHeader:]), pos, c.file
}

// txnStart is called where each transaction starts, skipping telling
// whether it is before the reader's start position.
func (c *continuity) txnStart(g txn.GTID, skipping bool) {
	if !skipping && !c.started {
		c.start, c.started = c.now.clone(), true
	}
	c.undo = lastAdded{}
	if g.Flavor == txn.FlavorMariaDB && !g.IsZero() {
		k := event.MariaKey{Domain: g.Domain, Server: g.Server}
		seq, had := c.now.maria[k]
		c.undo = lastAdded{key: k, seq: seq, had: had, set: true}
	}
	c.now.add(g)
}

// dropLast takes the GTID of the last transaction started out of the
// history, as if it had not been read: a crash cut it (crash.go), and the
// server that restarted does not count it. Only MariaDB GTIDs are taken
// out; the reader leaves out no other.
func (c *continuity) dropLast() {
	if !c.undo.set {
		return
	}
	if c.undo.had {
		c.now.maria[c.undo.key] = c.undo.seq
	} else {
		delete(c.now.maria, c.undo.key)
	}
	c.undo = lastAdded{}
}

// list handles the GTID_LIST or PREVIOUS_GTIDS event of the current file:
// when the history before it is known, the list must equal it.
func (c *continuity) list(typ byte, body []byte) error {
	got := gtidHistory{kind: typ}
	var err error
	if typ == event.TypeMariaGTIDList {
		got.maria, err = event.ParseMariaGTIDList(body)
	} else {
		got.mysql, err = event.ParsePreviousGTIDs(body)
	}
	if err != nil {
		return err
	}
	prev := c.now
	c.now = got
	if c.off || c.prevFile == "" || prev.kind == 0 {
		return nil
	}
	if prev.kind != typ {
		return fmt.Errorf("%s is a %s binlog but %s is not: files from different servers? (--no-continuity-check reads on)",
			c.file, flavorOfList(typ), c.prevFile)
	}
	if c.restarted && typ == event.TypeMariaGTIDList {
		// A MariaDB server restarting after a crash recovers its GTID
		// state from its binlog, and may write a list behind what the
		// files before hold (seen on 10.11: 0-1-4 after a file that
		// started at 0-1-5), while it logs on from its real state. Only a
		// list ahead of them says that transactions are missing.
		if mine, theirs, ahead := mariaAhead(got.maria, prev.maria); ahead {
			return fmt.Errorf("%s, written as its server restarted after a crash, starts after %s but %s ended at %s: "+
				"files from different servers or a missing file? (--no-continuity-check reads on)", c.file, mine, c.prevFile, theirs)
		}
		return nil
	}
	if mine, theirs, differ := historyDiff(got, prev); differ {
		return fmt.Errorf("%s starts after %s but %s ended at %s: files from different servers or a missing file? "+
			"(after RESET MASTER or DELETE_DOMAIN_ID, --no-continuity-check reads on)", c.file, mine, c.prevFile, theirs)
	}
	return nil
}

func flavorOfList(typ byte) string {
	if typ == event.TypeMariaGTIDList {
		return "MariaDB"
	}
	return "MySQL"
}

// historyDiff describes the first domain or source where a and b differ.
func historyDiff(a, b gtidHistory) (inA, inB string, differ bool) {
	if a.kind == event.TypeMariaGTIDList {
		for _, d := range mariaDomains(a.maria, b.maria) {
			sa, sb := mariaDomain(a.maria, d), mariaDomain(b.maria, d)
			if sa != sb {
				return sa, sb, true
			}
		}
		return "", "", false
	}
	sources := append(a.mysql.Sources(), b.mysql.Sources()...)
	sort.Strings(sources)
	for _, src := range sources {
		sa, sb := a.mysql.Source(src).String(), b.mysql.Source(src).String()
		if sa != sb {
			return orNothing(sa, src), orNothing(sb, src), true
		}
	}
	return "", "", false
}

func orNothing(s, what string) string {
	if s == "" {
		return "nothing of " + what
	}
	return s
}

// mariaAhead describes the first domain where a reaches a higher sequence
// number than b.
func mariaAhead(a, b map[event.MariaKey]uint64) (inA, inB string, ahead bool) {
	top := func(m map[event.MariaKey]uint64, d uint32) (seq uint64, ok bool) {
		for k, s := range m {
			if k.Domain == d && (!ok || s > seq) {
				seq, ok = s, true
			}
		}
		return seq, ok
	}
	for _, d := range mariaDomains(a, b) {
		sa, okA := top(a, d)
		sb, okB := top(b, d)
		if okA && (!okB || sa > sb) {
			return mariaDomain(a, d), mariaDomain(b, d), true
		}
	}
	return "", "", false
}

// mariaDomains returns the domains of a and b, sorted.
func mariaDomains(a, b map[event.MariaKey]uint64) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for _, m := range []map[event.MariaKey]uint64{a, b} {
		for k := range m {
			if !seen[k.Domain] {
				seen[k.Domain] = true
				out = append(out, k.Domain)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// mariaDomain formats the entries of domain d, by sequence number then
// server id.
func mariaDomain(m map[event.MariaKey]uint64, d uint32) string {
	type entry struct {
		server uint32
		seq    uint64
	}
	var es []entry
	for k, seq := range m {
		if k.Domain == d {
			es = append(es, entry{k.Server, seq})
		}
	}
	if len(es) == 0 {
		return fmt.Sprintf("nothing of domain %d", d)
	}
	sort.Slice(es, func(i, j int) bool {
		return es[i].seq < es[j].seq || es[i].seq == es[j].seq && es[i].server < es[j].server
	})
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%d-%d-%d", d, e.server, e.seq)
	}
	return strings.Join(parts, ",")
}

// GTIDHistory returns the GTID history the binlogs record: atStart, the
// GTIDs written before the start position (the list at the start of the
// first file read, plus the GTIDs before the start position in that file),
// and read, the same plus every GTID read since. For MariaDB a domain's
// position is its highest sequence number. known is false when the files
// read carry no GTID list (MySQL and MariaDB 5.5): then only the GTIDs read
// are returned. Call it between calls to Next; with decode workers, read
// may include transactions read ahead and not returned yet (all of them
// once Next has returned io.EOF).
func (r *Reader) GTIDHistory() (atStart, read txn.GTIDSet, known bool) {
	start := r.in.cont.start
	if !r.in.cont.started {
		start = r.in.cont.now
	}
	return start.set(), r.in.cont.now.set(), start.kind != 0
}
