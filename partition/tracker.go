package partition

// DefaultMaxKeys is the memory bound NewTracker uses when given 0: about
// 1M remembered keys, some 50 MB. An applier that calls Forget as commits
// go by stays far below it.
const DefaultMaxKeys = 1 << 20

// Tracker turns write sets into dependencies. Transactions are added in
// source order; for each, Add returns dependsOn: the largest earlier Seq
// that must have COMMITTED before the transaction may start. Since the
// applier commits in Seq order, waiting for dependsOn means waiting for
// every transaction up to it. 0 means it may start at once.
//
// The rule: dependsOn is the latest earlier transaction that shares a key
// with it, or the floor if that is later. A barrier depends on the
// transaction just before it, and raises the floor to itself, so that every
// later transaction waits for it. When more than maxKeys (key, Seq) pairs
// are remembered, the oldest are forgotten and the floor is raised to the
// Seq of the last forgotten pair: a later transaction that shared a
// forgotten key then still waits for it (and for a little more).
//
// Worked example (keys are rows; t.k = row k of table t):
//
//	seq  writes        barrier  dependsOn  why
//	1    a.1           no       0          nothing before it
//	2    a.2           no       0          no common key: runs beside 1
//	3    a.1, b.7      no       1          a.1 was last written by 1
//	4    b.7, a.2      no       3          b.7 by 3 (a.2 by 2 is earlier)
//	5    a.9           no       0          independent of 1-4
//	6    (DDL)         yes      5          a barrier waits for all before it
//	7    a.9           no       6          floor 6; a.9 (by 5) was forgotten
//	8    c.3           no       6          floor 6
//	9    a.9, c.3      no       8          c.3 by 8 (a.9 by 7 is earlier)
//
// With enough workers, 1, 2 and 5 run at the same time; 3 starts when 1
// has committed, 4 when 3 has; 6 starts when 5 (so everything before it)
// has committed; 7 and 8 then run side by side, and 9 starts when 8 has
// committed.
//
// A Tracker is not safe for concurrent use: transactions arrive in order.
type Tracker struct {
	maxKeys int
	last    map[Key]uint64 // key -> latest Seq that wrote it
	queue   []pair         // remembered (key, Seq), oldest first from head
	head    int
	floor   uint64 // every transaction depends at least on this Seq
	prev    uint64 // Seq of the last transaction added
}

type pair struct {
	key Key
	seq uint64
}

// NewTracker returns a Tracker remembering at most maxKeys (key, Seq) pairs
// (DefaultMaxKeys when maxKeys <= 0).
func NewTracker(maxKeys int) *Tracker {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Tracker{maxKeys: maxKeys, last: map[Key]uint64{}}
}

// Add registers the transaction seq with its write set and returns the Seq
// it depends on (0 for none), always less than seq. A barrier depends on
// the previous transaction and every later one depends on the barrier.
// Seqs must strictly increase; a seq that does not is treated as a barrier
// depending on seq-1 (the caller's bug, made safe).
func (tr *Tracker) Add(seq uint64, keys []Key, barrier bool) (dependsOn uint64) {
	return tr.add(seq, seq, keys, barrier)
}

// AddToGroup is Add for a transaction that joins a group: the consecutive
// transactions first..seq-1, already added, which one connection applies
// in order, and which waits for what each of its members depends on. It
// returns the latest transaction before first that seq depends on beyond
// what the group waits for already (0 for none), always less than first.
//
// A key last written inside the group adds nothing: its earlier writers
// are what that member depended on, or members themselves. So a group of
// transactions on the same hot row waits only for the group before it
// that touched the row, not for every earlier group. When the floor lies
// inside the group (a barrier cannot: it never joins a group; the
// eviction of keys can), the transaction depends on first-1: every
// transaction before the group.
//
// Worked example (group 4..5 being built, then 6 joins it):
//
//	seq  writes   group  AddToGroup  why
//	1    a.1      -      0
//	2    b.1      -      0
//	3    c.1      -      0
//	4    a.1      4..    1           a.1 by 1
//	5    a.1      4..5   0           a.1 by 4, in the group
//	6    a.1, b.1 4..6   2           a.1 by 5 adds nothing; b.1 by 2
//
// A barrier does not join groups: use Add.
func (tr *Tracker) AddToGroup(seq, first uint64, keys []Key) (dependsOn uint64) {
	return tr.add(seq, min(first, seq), keys, false)
}

// add is Add and AddToGroup: writers from first on are in seq's group.
func (tr *Tracker) add(seq, first uint64, keys []Key, barrier bool) (dependsOn uint64) {
	if seq <= tr.prev {
		barrier = true
	}
	if barrier {
		dependsOn = min(tr.prev, seq-1)
		clear(tr.last)
		tr.queue, tr.head = tr.queue[:0], 0
		tr.floor = max(tr.floor, seq, tr.prev)
		tr.prev = max(tr.prev, seq)
		return dependsOn
	}
	dependsOn = tr.floor
	if dependsOn >= first {
		dependsOn = first - 1
	}
	for _, k := range keys {
		if s := tr.last[k]; s > dependsOn && s < first {
			dependsOn = s
		}
	}
	for _, k := range keys {
		tr.last[k] = seq
		tr.queue = append(tr.queue, pair{k, seq})
	}
	tr.prev = seq
	tr.evict()
	return dependsOn
}

// Forget forgets the pairs of transactions up to upTo, which the caller
// knows have committed: a later transaction that shares a key with one of
// them needs no wait for it. An applier that calls it as commits go by
// keeps only the keys of the transactions in flight, however long the
// binlogs.
func (tr *Tracker) Forget(upTo uint64) {
	for tr.head < len(tr.queue) && tr.queue[tr.head].seq <= upTo {
		p := tr.queue[tr.head]
		tr.head++
		if tr.last[p.key] == p.seq {
			delete(tr.last, p.key)
		}
	}
	tr.compact()
}

// evict forgets the oldest pairs beyond maxKeys, raising the floor.
func (tr *Tracker) evict() {
	for len(tr.queue)-tr.head > tr.maxKeys {
		p := tr.queue[tr.head]
		tr.head++
		if tr.last[p.key] == p.seq {
			delete(tr.last, p.key)
		}
		tr.floor = max(tr.floor, p.seq)
	}
	tr.compact()
}

// compact moves the remembered pairs to the front of the queue once most
// of it is forgotten.
func (tr *Tracker) compact() {
	if tr.head > len(tr.queue)/2 && tr.head > 1024 {
		n := copy(tr.queue, tr.queue[tr.head:])
		tr.queue, tr.head = tr.queue[:n], 0
	}
}

// Len returns how many (key, Seq) pairs the Tracker remembers.
func (tr *Tracker) Len() int { return len(tr.queue) - tr.head }
