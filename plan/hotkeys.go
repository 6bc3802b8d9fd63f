package plan

import (
	"sort"

	"github.com/binlog-replay/binlog-replay/partition"
)

// hotKeyLimit bounds how many distinct keys hotKeys counts at once (some
// 40 bytes each).
const hotKeyLimit = 1 << 21

// hotKeys counts, per key, the transactions that touched it, to report the
// n most touched (ties: the key seen first comes first).
//
// Most keys are touched once, so names are made only for keys touched
// twice and for the first n keys: the top n always has a name, since a key
// touched once is in it only if fewer than n keys were touched twice, and
// then it is among the first n keys. The counts hold no pointers, which
// keeps them cheap for the garbage collector.
//
// When more than limit distinct keys are counted, the least touched half
// is forgotten (pruned is then set): keys touched often survive, and their
// counts become lower bounds.
type hotKeys struct {
	n, limit int
	counts   map[partition.Key]hotCount
	names    map[partition.Key]string
	next     uint64 // order of the next new key
	pruned   bool
	// hideValues names rows without their key values.
	hideValues bool
}

type hotCount struct {
	txns  uint64
	order uint64 // when the key was first seen
}

func newHotKeys(n, limit int, hideValues bool) *hotKeys {
	return &hotKeys{n: n, limit: limit, counts: map[partition.Key]hotCount{}, names: map[partition.Key]string{},
		hideValues: hideValues}
}

// touchRow counts one transaction touching the row ref.
func (h *hotKeys) touchRow(ref *rowRef) {
	if h.touch(ref.key) {
		h.names[ref.key] = ref.label(h.hideValues)
	}
}

// touchTable counts one transaction writing table whole.
func (h *hotKeys) touchTable(table string) {
	if k := wholeTableKey(table); h.touch(k) {
		h.names[k] = table + " (whole table)"
	}
}

// touch counts k and reports whether it needs a name now.
func (h *hotKeys) touch(k partition.Key) bool {
	c, ok := h.counts[k]
	if !ok {
		if len(h.counts) >= h.limit {
			h.prune()
		}
		c.order = h.next
		h.next++
	}
	c.txns++
	h.counts[k] = c
	if c.txns >= 2 || c.order < uint64(h.n) {
		_, named := h.names[k]
		return !named
	}
	return false
}

// prune forgets at least half of the keys, the least touched first.
func (h *hotKeys) prune() {
	txns := make([]uint64, 0, len(h.counts))
	for _, c := range h.counts {
		txns = append(txns, c.txns)
	}
	sort.Slice(txns, func(i, j int) bool { return txns[i] < txns[j] })
	cut := txns[len(txns)/2]
	for k, c := range h.counts {
		if c.txns <= cut {
			delete(h.counts, k)
			delete(h.names, k)
		}
	}
	h.pruned = true
}

// top returns the n keys touched by most transactions, most first.
func (h *hotKeys) top() []HotKey {
	type entry struct {
		HotKey
		order uint64
	}
	out := make([]entry, 0, len(h.names))
	for k, name := range h.names {
		c := h.counts[k]
		out = append(out, entry{HotKey{Key: name, Txns: c.txns}, c.order})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Txns != out[j].Txns {
			return out[i].Txns > out[j].Txns
		}
		return out[i].order < out[j].order
	})
	keys := make([]HotKey, 0, h.n)
	for _, e := range out[:min(h.n, len(out))] {
		keys = append(keys, e.HotKey)
	}
	return keys
}
