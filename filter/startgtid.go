package filter

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// A --start-gtid set says what the target already holds (the base backup's
// GTID position). The binlogs record what was written before them: the GTID
// list at the start of their first file (MariaDB GTID_LIST, MySQL
// PREVIOUS_GTIDS). Three checks follow:
//
//   - StartGap: GTIDs written before the binlogs that the set lacks are in
//     neither the target nor the binlogs: the backup is older than the
//     first binlog (or files are missing before it). Refused before
//     anything is applied.
//   - StartBeyond: GTIDs of the set past the end of the binlogs, in a domain
//     or source the binlogs follow: the target is newer than these
//     binlogs (binlogs of another server, or newer binlogs missing).
//     Refused before anything is applied where the replay can read the
//     binlog files ahead; found at their end otherwise.
//   - StartUnknown: domains or sources of the set the binlogs never mention
//     (the backup came from a server with more replication streams, or
//     from another server): nothing to skip there; reported, not refused.
//   - Filter.CheckStartOrder: a transaction the set skips after one of its
//     domain it does not skip, or after the position's own (sequence
//     numbers out of order): whether the base holds it cannot be told.
//     Refused before anything is applied where the replay can read the
//     binlog files ahead; where it comes otherwise, before that
//     transaction.
//
// MariaDB sets are positions: domain d at sequence n holds every GTID of d
// up to n, whatever the server id. That holds while a domain's sequence
// numbers rise along the binlogs, as a server writes them; with
// gtid_strict_mode off they may not (SET gtid_seq_no, a replica applying
// another stream of the same domain, a failover that reused one).

// StartOrderError refuses a MariaDB --start-gtid position in binlogs where
// a transaction it skips comes after the position (after one of the same
// domain it does not skip, or its own last transaction): the position
// cannot say whether the base holds it.
type StartOrderError struct {
	Start txn.GTIDSet
	// Skipped is the transaction the set skips.
	Skipped *txn.Ref
	// After says where the position was passed before it: a transaction
	// past the position or the position's own, where a source server
	// started sending, or the binlogs before the reading started.
	After  string
	Domain uint32
	Seq    uint64 // the set's sequence number in Domain
}

// Error says which transactions, and what to do.
func (e *StartOrderError) Error() string {
	return fmt.Sprintf("--start-gtid %s: transaction %s at %s, which the position skips (domain %d up to sequence number %d), "+
		"comes after %s: "+
		"domain %d's sequence numbers are out of order in these binlogs (gtid_strict_mode off: SET gtid_seq_no, "+
		"another stream of the domain replicated in, a failover), so a GTID position cannot say whether the base holds it; "+
		"start from the base's binlog position instead (--start-position FILE:POS, or --from-backup DIR)",
		e.Start, e.Skipped.GTID, e.Skipped.Start, e.Domain, e.Seq, e.After, e.Domain)
}

// CheckStartOrder returns a *StartOrderError when the MariaDB --start-gtid
// position skips t, and t comes after an earlier transaction of its domain
// that it does not skip or after the position's own (the one of the
// position's sequence number). Call it for every transaction read, in
// binlog order (for one read in pieces, its first), before Skips.
func (f *Filter) CheckStartOrder(t *txn.Txn) error {
	g := t.GTID
	if g.IsZero() || g.Flavor != txn.FlavorMariaDB {
		return nil
	}
	n, ok := f.o.StartGTIDs.DomainSeq(g.Domain)
	switch {
	case !ok:
		return nil
	case g.Seq > n: // past the position: a transaction it does not skip
		f.markPastStart(g.Domain, passedAt(t))
	case f.pastStart[g.Domain] != "":
		return &StartOrderError{Start: f.o.StartGTIDs, Skipped: t.Ref(), After: f.pastStart[g.Domain], Domain: g.Domain, Seq: n}
	case g.Seq == n: // the position's own, the last the base holds of the domain
		f.markPastStart(g.Domain, passedAt(t))
	}
	return nil
}

func passedAt(t *txn.Txn) string {
	return fmt.Sprintf("%s at %s in the binlogs, which is past the position or the position's own", t.GTID, t.Start)
}

// StartPassed tells CheckStartOrder that every transaction read from now
// on comes after the --start-gtid position in each of its MariaDB domains,
// as a source server sends them when asked to start at that position: one
// the position skips is then out of order.
func (f *Filter) StartPassed() {
	for _, d := range f.o.StartGTIDs.Domains() {
		f.markPastStart(d, "the position, where the source server started sending")
	}
}

// StartHistory tells CheckStartOrder the GTID history written before the
// point where reading starts (the GTID list at the start of the first file
// read and the transactions before the start in it, as
// binlog.Reader.GTIDHistory gives it, or a checkpoint's): in a MariaDB
// domain whose history already reaches the --start-gtid position's
// sequence number, the position's own transaction or one past it was
// logged before, so every transaction read from now on comes after the
// position there. Without it, binlogs that begin after the position (a
// backup taken at a rotation) or a resume in the middle of them would skip
// a transaction the position covers that the base lacks.
func (f *Filter) StartHistory(before txn.GTIDSet) {
	for _, d := range f.o.StartGTIDs.Domains() {
		n, _ := f.o.StartGTIDs.DomainSeq(d)
		if seq, ok := before.DomainSeq(d); ok && seq >= n {
			f.markPastStart(d, fmt.Sprintf("the binlogs before the point where the reading started, whose GTID history already reaches sequence number %d of the domain", seq))
		}
	}
}

func (f *Filter) markPastStart(domain uint32, at string) {
	if f.pastStart == nil {
		f.pastStart = map[uint32]string{}
	}
	if f.pastStart[domain] == "" {
		f.pastStart[domain] = at
	}
}

// StartGap returns an error naming the missing transactions when the set
// start lacks GTIDs of before, the GTID history written before the
// binlogs' start position (read from file, the first file read).
func StartGap(start, before txn.GTIDSet, file string) error {
	missing := before.Subtract(start)
	if missing.IsEmpty() {
		return nil
	}
	var parts []string
	for _, d := range missing.Domains() {
		last, _ := before.DomainSeq(d)
		if have, ok := start.DomainSeq(d); ok {
			parts = append(parts, fmt.Sprintf("domain %d sequence numbers %d to %d", d, have+1, last))
		} else {
			parts = append(parts, fmt.Sprintf("domain %d up to sequence number %d (--start-gtid has nothing of domain %d)", d, last, d))
		}
	}
	for _, src := range missing.Sources() {
		parts = append(parts, missing.Source(src).String())
	}
	return fmt.Errorf("--start-gtid %s: the binlogs begin after %s (the GTID list at the start of %s), "+
		"so the transactions %s are neither in the target nor in these binlogs: "+
		"is the base backup older than the first binlog, or are binlog files missing before %s?",
		start, before, file, strings.Join(parts, ", "), file)
}

// StartBeyond returns an error when the set start holds GTIDs past end (the
// GTID history of the binlogs up to their end) in a domain or source that
// end mentions.
func StartBeyond(start, end txn.GTIDSet) error {
	ahead := start.Subtract(end)
	var parts []string
	for _, d := range ahead.Domains() {
		if last, ok := end.DomainSeq(d); ok {
			seq, _ := start.DomainSeq(d)
			parts = append(parts, fmt.Sprintf("domain %d is at sequence number %d, the binlogs end at %d", d, seq, last))
		}
	}
	for _, src := range ahead.Sources() {
		if !end.Source(src).IsEmpty() {
			parts = append(parts, ahead.Source(src).String()+" are not in the binlogs")
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("--start-gtid %s is past the end of the binlogs (%s): %s; "+
		"the target is newer than these binlogs (binlogs of another server, or newer binlog files missing?)",
		start, end, strings.Join(parts, "; "))
}

// StartUnknown returns the domains ("domain 5") and sources of the set
// start that end, the binlogs' GTID history, never mentions.
func StartUnknown(start, end txn.GTIDSet) []string {
	var out []string
	for _, d := range start.Domains() {
		if _, ok := end.DomainSeq(d); !ok {
			out = append(out, fmt.Sprintf("domain %d", d))
		}
	}
	for _, src := range start.Sources() {
		if end.Source(src).IsEmpty() {
			out = append(out, src)
		}
	}
	return out
}
