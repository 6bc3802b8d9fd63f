package pipeline

import "sync/atomic"

// Serial stretches: where every group waits for the one before (hot rows),
// extra workers have nothing to do, and decoding row images and computing
// write sets only takes CPU the target needs. After serialAfter groups in a
// row, and serialAfterTxns transactions, each waiting for the group before
// it, the reader stops decoding row images: the transactions then run in
// order, one group after the other, as with one worker (their undecoded
// rows make them barriers). After serialProbe transactions so applied, it
// decodes again, to see whether the binlog allows parallelism there.
const (
	serialAfter     = 32
	serialAfterTxns = 1024
	serialProbe     = 20000
)

// serialMode watches the groups dispatched and turns row decoding off and
// on (the reader's binlog.Options.SkipDecode).
type serialMode struct {
	skip      atomic.Bool
	chain     int    // groups in a row each waiting for the one before
	chainTxns int    // their transactions
	prevFirst uint64 // first ticket of the group dispatched before
	undecoded int    // transactions dispatched since decoding was turned off
}

// dispatched records the group g, dispatched after every group before it.
func (s *serialMode) dispatched(g *group) {
	if s.prevFirst > 0 && g.dependsOn >= s.prevFirst {
		s.chain++
		s.chainTxns += len(g.txns)
	} else {
		s.chain, s.chainTxns = 0, 0
	}
	s.prevFirst = g.first
	if !s.skip.Load() {
		if s.chain >= serialAfter && s.chainTxns >= serialAfterTxns {
			s.skip.Store(true)
			s.undecoded = 0
		}
		return
	}
	if s.undecoded += len(g.txns); s.undecoded >= serialProbe {
		s.skip.Store(false)
		s.chain, s.chainTxns = 0, 0
	}
}

// serial reports whether decoding is off.
func (s *serialMode) serial() bool { return s.skip.Load() }
