package adapt

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

// SerialMode watches the groups dispatched and turns row decoding off and
// on (the reader's binlog.Options.SkipDecode).
type SerialMode struct {
	skip      atomic.Bool
	chain     int    // groups in a row each waiting for the one before
	chainTxns int    // their transactions
	prevFirst uint64 // first ticket of the group dispatched before
	undecoded int    // transactions dispatched since decoding was turned off
}

// Dispatched records the group of txns transactions from ticket first,
// waiting for ticket dependsOn (0: nothing), dispatched after every group
// before it.
func (s *SerialMode) Dispatched(first, dependsOn uint64, txns int) {
	if s.prevFirst > 0 && dependsOn >= s.prevFirst {
		s.chain++
		s.chainTxns += txns
	} else {
		s.chain, s.chainTxns = 0, 0
	}
	s.prevFirst = first
	if !s.skip.Load() {
		if s.chain >= serialAfter && s.chainTxns >= serialAfterTxns {
			s.skip.Store(true)
			s.undecoded = 0
		}
		return
	}
	if s.undecoded += txns; s.undecoded >= serialProbe {
		s.skip.Store(false)
		s.chain, s.chainTxns = 0, 0
	}
}

// Active reports whether decoding is off.
func (s *SerialMode) Active() bool { return s.skip.Load() }

// SkipFlag is the flag the reader reads to know whether to decode row
// images (binlog.Options.SkipDecode).
func (s *SerialMode) SkipFlag() *atomic.Bool { return &s.skip }
