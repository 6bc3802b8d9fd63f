package workload

import "math/rand/v2"

// owner splits ids between the n sessions of Run: session s owns the ids
// with (id-1) % n == s, so sessions that track rows never touch each
// other's (shared tables and gaps still make them contend).
type owner struct{ s, n int }

func (o owner) owns(id int) bool { return (id-1)%o.n == o.s }

// idAlloc hands out fresh ids owned by one session, never the same twice.
type idAlloc struct {
	owner
	next int
}

// newIDAlloc returns an allocator whose first id is the smallest owned id
// above floor.
func newIDAlloc(o owner, floor int) *idAlloc {
	next := floor + 1
	for !o.owns(next) {
		next++
	}
	return &idAlloc{owner: o, next: next}
}

func (a *idAlloc) fresh() int {
	id := a.next
	a.next += a.n
	return id
}

// idSet is a set of ids with deterministic random picks (no map iteration).
type idSet struct {
	ids []int
	pos map[int]int
}

func newIDSet() *idSet { return &idSet{pos: map[int]int{}} }

func (s *idSet) len() int              { return len(s.ids) }
func (s *idSet) has(id int) bool       { _, ok := s.pos[id]; return ok }
func (s *idSet) pick(r *rand.Rand) int { return s.ids[r.IntN(len(s.ids))] }

func (s *idSet) add(id int) {
	if s.has(id) {
		return
	}
	s.pos[id] = len(s.ids)
	s.ids = append(s.ids, id)
}

func (s *idSet) remove(id int) {
	i, ok := s.pos[id]
	if !ok {
		return
	}
	last := s.ids[len(s.ids)-1]
	s.ids[i] = last
	s.pos[last] = i
	s.ids = s.ids[:len(s.ids)-1]
	delete(s.pos, id)
}

// owned returns the ids in s that o owns, in s's order.
func (s *idSet) owned(o owner) *idSet {
	out := newIDSet()
	for _, id := range s.ids {
		if o.owns(id) {
			out.add(id)
		}
	}
	return out
}
