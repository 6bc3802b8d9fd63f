package soak

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
)

// What the replay's error says when a MariaDB domain's sequence numbers
// out of order along the binlogs (seedgen.FeatSeqNo) make a GTID start or
// stop point ambiguous: --start-gtid cannot place a transaction, or
// --stop-before-gtid is met before its own transaction (both "out of
// order"); the binlogs before the base's position already reach
// --stop-before-gtid's sequence number.
const (
	orderRefusal = "out of order"
	reachRefusal = "already reach sequence number"
)

// expectStopReached makes the expectation a refusal, and reports whether
// it did, when the binlogs before the base's position already reach the
// sequence number of --stop-before-gtid in its domain (a GTID of another
// server id, or in binlogs whose sequence numbers do not rise): reading
// the files by GTID, it is met there, on a transaction the base holds;
// otherwise the GTID history before the start reaches it (the start
// file's, or the list a source server sends as it starts at a GTID
// position: seed 90926). Seed 108344 (another server id, GTID domains
// whose numbers rise) was expected to stop before its first transaction.
func (r *Result) expectStopReached(src *Source) bool {
	c := r.Replay
	if len(c.Stop.Args) != 2 || c.Stop.Args[0] != "--stop-before-gtid" {
		return false
	}
	stopGTID := c.Stop.Args[1]
	d, _, s := binlogtext.SplitGTID(stopGTID)
	if p, ok := positionSeqs(src.StartGTID)[d]; !ok || p < s {
		return false
	}
	byGTID := c.StartGTID && src.StartGTID != ""
	refusal, why := reachRefusal, "the binlogs before the base's position reach "+stopGTID
	if byGTID {
		refusal, why = heldRefusal, "--stop-before-gtid "+stopGTID+" is met before the base's position, which holds it"
	}
	r.planRefusal = refusal
	if byGTID && c.Remote && src.Server != nil {
		refusal = reachRefusal
	}
	r.Expect = Expect{Exit: 1, Applied: 0, Refusal: refusal, Why: "refused: " + why}
	return true
}

// expectSeqOrder makes the expectation what the replay's documented rules
// give where a domain's sequence numbers do not rise along the binlogs (a
// MariaDB GTID position, "domain d up to n", then names transactions on
// both sides of a point). It is derived from the rules, in this order:
//
//   - a --stop-before-gtid is met at the first transaction of its domain at
//     or beyond its sequence number (as START SLAVE UNTIL); the binlogs
//     before the base's position reaching it is refused (the GTID history
//     before the start reaches it; reading the files with --start-gtid,
//     the base holds where it is met);
//   - reading files, the replay reads ahead up to where the stop is met and
//     refuses, before applying anything, a transaction --start-gtid skips
//     (one the base's position covers) before it; a stop met on a
//     transaction the position covers with nothing applied before it; a
//     stop met before the --stop-before-gtid's own transaction;
//   - reading from the source, it cannot read ahead: it stops where the
//     stop is met, and refuses a transaction --start-gtid skips where it
//     comes, every transaction before it applied.
//
// Plan reads the files with the same start flag: it must foresee the
// files' refusal (r.planRefusal). Binlogs whose sequence numbers rise are
// left to expect.
func (r *Result) expectSeqOrder(src *Source, txns []binlogtext.BinTxn) {
	c := r.Replay
	if c.Stop.UnknownDomain || r.expectStopReached(src) || !seqOutOfOrder(txns) {
		return
	}
	base := positionSeqs(src.StartGTID)
	byGTID := c.StartGTID && src.StartGTID != ""
	remote := c.Remote && src.Server != nil
	held := func(k int) bool { // the base's position covers txns[k]
		if txns[k].GTID == "" {
			// A transaction whose GTID event a crash cut (appendFirstEventCut):
			// no GTID, nothing of it read.
			return false
		}
		d, _, n := binlogtext.SplitGTID(txns[k].GTID)
		p, ok := base[d]
		return byGTID && ok && n <= p
	}
	skippedBefore := func(k int) int { // transactions before k that --exclude-gtids skips
		if c.Accident >= 0 && c.Accident < k {
			return 1
		}
		return 0
	}
	refuse := func(applied int, refusal, why string) {
		r.Expect = Expect{Exit: 1, Applied: applied, Refusal: refusal, Why: "refused: " + why}
	}
	stopAt := func(met int) {
		c2 := c
		c2.Stop.Index = met
		r.Expect = expect(txns, c2)
	}

	met, own, stopGTID := c.Stop.Index, -1, ""
	if len(c.Stop.Args) == 2 && c.Stop.Args[0] == "--stop-before-gtid" {
		stopGTID = c.Stop.Args[1]
		d, _, s := binlogtext.SplitGTID(stopGTID)
		met = binlogtext.FirstAtOrBeyond(txns, d, s)
		for k, t := range txns {
			if t.GTID == stopGTID {
				own = k
				break
			}
		}
	}

	// Reading the files: the refusals before anything is applied.
	filesRefusal, filesWhy := "", ""
	for k := 0; k < met && k < len(txns); k++ {
		if held(k) {
			filesRefusal, filesWhy = orderRefusal, fmt.Sprintf("--start-gtid skips transaction #%d (%s), logged after the base", k+1, txns[k].GTID)
			break
		}
	}
	switch {
	case filesRefusal != "":
	case met < len(txns) && held(met) && met-skippedBefore(met) == 0:
		filesRefusal, filesWhy = heldRefusal, fmt.Sprintf("the stop is met at transaction #%d (%s), which the base's position covers, nothing applied before it", met+1, txns[met].GTID)
	case own >= 0 && met < own:
		filesRefusal, filesWhy = orderRefusal, fmt.Sprintf("--stop-before-gtid %s is met at transaction #%d (%s), before its own #%d", stopGTID, met+1, txns[met].GTID, own+1)
	}
	if r.planRefusal == "" {
		r.planRefusal = filesRefusal
	}
	if !remote {
		if filesRefusal != "" {
			refuse(0, filesRefusal, filesWhy)
		} else {
			stopAt(met)
		}
		return
	}
	// Reading from the source, transaction by transaction.
	for k := range txns {
		switch {
		case k == met && held(k) && k-skippedBefore(k) == 0:
			refuse(0, heldRefusal, fmt.Sprintf("the stop is met at transaction #%d (%s), which the base's position covers, nothing applied before it", k+1, txns[k].GTID))
			return
		case k == met:
			stopAt(met)
			return
		case held(k):
			stopAt(k) // what comes before it: an XA transaction is refused first
			if r.Expect.Refusal == "" {
				refuse(k, orderRefusal, fmt.Sprintf("--start-gtid skips transaction #%d (%s), read from the source after the base", k+1, txns[k].GTID))
			}
			return
		}
	}
	stopAt(met)
}

// seqOutOfOrder reports whether some transaction's MariaDB sequence number
// is not above every earlier one of its domain.
func seqOutOfOrder(txns []binlogtext.BinTxn) bool {
	highest := map[uint64]uint64{}
	for _, t := range txns {
		d, _, n := binlogtext.SplitGTID(t.GTID)
		if h, ok := highest[d]; ok && n <= h {
			return true
		}
		highest[d] = n
	}
	return false
}

// positionSeqs returns the sequence number of each domain of a MariaDB
// GTID position ("0-1-25,1-1-3").
func positionSeqs(pos string) map[uint64]uint64 {
	seqs := map[uint64]uint64{}
	for _, g := range strings.Split(pos, ",") {
		if g = strings.TrimSpace(g); g != "" {
			d, _, n := binlogtext.SplitGTID(g)
			seqs[d] = n
		}
	}
	return seqs
}
