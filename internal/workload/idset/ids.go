// Package idset tracks the row ids a workload session owns: which ids
// belong to which session, fresh ids to insert, and the set of ids a table
// holds with deterministic random picks.
package idset

import "math/rand/v2"

// Owner splits ids between the N sessions of Run: session S owns the ids
// with (id-1) % N == S, so sessions that track rows never touch each
// other's (shared tables and gaps still make them contend).
type Owner struct{ S, N int }

// Owns reports whether id belongs to o.
func (o Owner) Owns(id int) bool { return (id-1)%o.N == o.S }

// Alloc hands out fresh ids owned by one session, never the same twice.
type Alloc struct {
	Owner
	next int
}

// NewAlloc returns an allocator whose first id is the smallest owned id
// above floor.
func NewAlloc(o Owner, floor int) *Alloc {
	next := floor + 1
	for !o.Owns(next) {
		next++
	}
	return &Alloc{Owner: o, next: next}
}

// Fresh returns the next unused owned id.
func (a *Alloc) Fresh() int {
	id := a.next
	a.next += a.N
	return id
}

// Set is a set of ids with deterministic random picks (no map iteration).
type Set struct {
	IDs []int
	pos map[int]int
}

// New returns an empty set.
func New() *Set { return &Set{pos: map[int]int{}} }

// Len returns the number of ids in s.
func (s *Set) Len() int { return len(s.IDs) }

// Has reports whether id is in s.
func (s *Set) Has(id int) bool { _, ok := s.pos[id]; return ok }

// Pick returns an id of s chosen with r; s must not be empty.
func (s *Set) Pick(r *rand.Rand) int { return s.IDs[r.IntN(len(s.IDs))] }

// Add adds id to s.
func (s *Set) Add(id int) {
	if s.Has(id) {
		return
	}
	s.pos[id] = len(s.IDs)
	s.IDs = append(s.IDs, id)
}

// Remove removes id from s (the last id takes its place in IDs).
func (s *Set) Remove(id int) {
	i, ok := s.pos[id]
	if !ok {
		return
	}
	last := s.IDs[len(s.IDs)-1]
	s.IDs[i] = last
	s.pos[last] = i
	s.IDs = s.IDs[:len(s.IDs)-1]
	delete(s.pos, id)
}

// Owned returns the ids in s that o owns, in s's order.
func (s *Set) Owned(o Owner) *Set {
	out := New()
	for _, id := range s.IDs {
		if o.Owns(id) {
			out.Add(id)
		}
	}
	return out
}
