package txn

import "sort"

// Domains returns the MariaDB domains of s, sorted.
func (s GTIDSet) Domains() []uint32 {
	out := make([]uint32, 0, len(s.mariadb))
	for d := range s.mariadb {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// DomainSeq returns the sequence number s holds for MariaDB domain d, and
// whether s mentions d at all.
func (s GTIDSet) DomainSeq(d uint32) (uint64, bool) {
	seq, ok := s.mariadb[d]
	return seq, ok
}

// Sources returns the MySQL sources (server UUIDs, with ":tag" for tagged
// GTIDs) of s, sorted.
func (s GTIDSet) Sources() []string {
	out := make([]string, 0, len(s.mysql))
	for src := range s.mysql {
		out = append(out, src)
	}
	sort.Strings(out)
	return out
}

// Source returns the part of s that belongs to the MySQL source src.
func (s GTIDSet) Source(src string) GTIDSet {
	ivs, ok := s.mysql[src]
	if !ok {
		return GTIDSet{}
	}
	return GTIDSet{mysql: map[string][]interval{src: append([]interval(nil), ivs...)}}
}

// Union adds every GTID of o to s. MariaDB positions move up to o's where
// o's are higher.
func (s *GTIDSet) Union(o GTIDSet) {
	for src, ivs := range o.mysql {
		for _, iv := range ivs {
			s.addInterval(src, iv)
		}
	}
	for d, seq := range o.mariadb {
		s.Add(GTID{Flavor: FlavorMariaDB, Domain: d, Server: o.servers[d], Seq: seq})
	}
}

// Subtract returns what s holds beyond o: for MySQL, the GTIDs of s that o
// lacks; for MariaDB, the domains where s's position is past o's (or o has
// none), with s's position.
func (s GTIDSet) Subtract(o GTIDSet) GTIDSet {
	var out GTIDSet
	for src, ivs := range s.mysql {
		for _, iv := range ivs {
			for _, rest := range subtractIntervals(iv, o.mysql[src]) {
				out.addInterval(src, rest)
			}
		}
	}
	for d, seq := range s.mariadb {
		if other, ok := o.mariadb[d]; !ok || seq > other {
			out.Add(GTID{Flavor: FlavorMariaDB, Domain: d, Server: s.servers[d], Seq: seq})
		}
	}
	return out
}

// subtractIntervals returns the parts of iv that none of the sorted,
// disjoint intervals in cut covers.
func subtractIntervals(iv interval, cut []interval) []interval {
	var out []interval
	lo := iv.lo
	for _, c := range cut {
		if c.hi < lo || c.lo > iv.hi {
			continue
		}
		if c.lo > lo {
			out = append(out, interval{lo, c.lo - 1})
		}
		if c.hi >= iv.hi {
			return out
		}
		lo = c.hi + 1
	}
	return append(out, interval{lo, iv.hi})
}

// AddRange puts the GTIDs lo to hi (inclusive) of the MySQL source src into
// the set. It does nothing when lo is 0 or hi < lo.
func (s *GTIDSet) AddRange(src string, lo, hi uint64) {
	if lo == 0 || hi < lo {
		return
	}
	s.addInterval(src, interval{lo, hi})
}
