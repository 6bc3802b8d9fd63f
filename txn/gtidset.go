package txn

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GTIDSet is a set of GTIDs in either syntax.
//
// MySQL: "uuid:1-5:7,uuid2:1-3" holds exactly the listed intervals.
// MariaDB: "0-1-100,1-2-50" is a replication position: per domain, every
// GTID of that domain with a sequence number up to the one given (whatever
// its server id), as gtid_slave_pos means it.
type GTIDSet struct {
	mysql   map[string][]interval // source (lower case, with tag) -> sorted intervals
	mariadb map[uint32]uint64     // domain -> highest seq contained
	// servers is, per domain, the server id of the GTID at its position
	// (informational: shown by String, never compared).
	servers map[uint32]uint32
}

type interval struct{ lo, hi uint64 } // inclusive

// ParseGTIDSet parses a GTID set in MySQL or MariaDB syntax. An empty string
// is the empty set.
func ParseGTIDSet(s string) (GTIDSet, error) {
	var set GTIDSet
	s = strings.TrimSpace(s)
	if s == "" {
		return set, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, ":") {
			if err := set.addMySQL(part); err != nil {
				return GTIDSet{}, fmt.Errorf("parse GTID set %q: %w", s, err)
			}
			continue
		}
		g, err := parseGTID(part)
		if err != nil {
			return GTIDSet{}, fmt.Errorf("parse GTID set %q: %w", s, err)
		}
		set.Add(g)
	}
	return set, nil
}

// addMySQL adds "uuid[:tag]:a-b:c[:tag2:d-e...]" to the set: every tag
// (and the UUID when no tag follows it directly) needs an interval.
func (s *GTIDSet) addMySQL(part string) error {
	fields := strings.Split(part, ":")
	if err := checkSource(fields[0], "", false); err != nil {
		return err
	}
	source := strings.ToLower(fields[0])
	intervals := 0 // of the current source
	for _, f := range fields[1:] {
		if f == "" {
			return fmt.Errorf("empty interval in %q", part)
		}
		if c := f[0]; c < '0' || c > '9' { // a tag: "uuid:tag:1-5"
			if intervals == 0 && source != strings.ToLower(fields[0]) {
				return fmt.Errorf("tag of %q without an interval", source)
			}
			if err := checkSource(fields[0], f, true); err != nil {
				return err
			}
			source, intervals = strings.ToLower(fields[0]+":"+f), 0
			continue
		}
		lo, hi, found := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return fmt.Errorf("bad interval %q: %w", f, err)
		}
		b := a
		if found {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil {
				return fmt.Errorf("bad interval %q: %w", f, err)
			}
		}
		if a == 0 || b < a {
			return fmt.Errorf("bad interval %q", f)
		}
		s.addInterval(source, interval{a, b})
		intervals++
	}
	if intervals == 0 {
		return fmt.Errorf("%q has no interval", part)
	}
	return nil
}

func (s *GTIDSet) addInterval(source string, iv interval) {
	if s.mysql == nil {
		s.mysql = map[string][]interval{}
	}
	ivs := s.mysql[source]
	if n := len(ivs); n > 0 && iv.lo >= ivs[n-1].lo && iv.lo <= ivs[n-1].hi+1 {
		ivs[n-1].hi = max(ivs[n-1].hi, iv.hi) // the common case: the next GTID of a source
		return
	}
	ivs = append(ivs, iv)
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].lo < ivs[j].lo })
	merged := ivs[:1]
	for _, v := range ivs[1:] {
		last := &merged[len(merged)-1]
		if v.lo <= last.hi+1 {
			last.hi = max(last.hi, v.hi)
			continue
		}
		merged = append(merged, v)
	}
	s.mysql[source] = merged
}

// Add puts g into the set. For a MariaDB GTID the domain's position moves
// up to g.Seq if it was lower.
func (s *GTIDSet) Add(g GTID) {
	if g.IsZero() {
		return
	}
	if g.Flavor == FlavorMariaDB {
		if s.mariadb == nil {
			s.mariadb = map[uint32]uint64{}
		}
		if seq, ok := s.mariadb[g.Domain]; !ok || g.Seq > seq {
			s.mariadb[g.Domain] = g.Seq
			if s.servers == nil {
				s.servers = map[uint32]uint32{}
			}
			s.servers[g.Domain] = g.Server
		}
		return
	}
	s.addInterval(g.Source, interval{g.Seq, g.Seq})
}

// Contains reports whether g is in the set.
func (s GTIDSet) Contains(g GTID) bool {
	if g.IsZero() {
		return false
	}
	if g.Flavor == FlavorMariaDB {
		seq, ok := s.mariadb[g.Domain]
		return ok && g.Seq <= seq
	}
	for _, iv := range s.mysql[g.Source] {
		if g.Seq >= iv.lo && g.Seq <= iv.hi {
			return true
		}
	}
	return false
}

// IsEmpty reports whether the set holds nothing.
func (s GTIDSet) IsEmpty() bool { return len(s.mysql) == 0 && len(s.mariadb) == 0 }

// String formats the set in its own syntax, sources and domains sorted.
func (s GTIDSet) String() string {
	var parts []string
	domains := make([]uint32, 0, len(s.mariadb))
	for d := range s.mariadb {
		domains = append(domains, d)
	}
	sort.Slice(domains, func(i, j int) bool { return domains[i] < domains[j] })
	for _, d := range domains {
		// The server id of a MariaDB position is informational only.
		parts = append(parts, fmt.Sprintf("%d-%d-%d", d, s.servers[d], s.mariadb[d]))
	}
	sources := make([]string, 0, len(s.mysql))
	for src := range s.mysql {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	for _, src := range sources {
		var b strings.Builder
		b.WriteString(src)
		for _, iv := range s.mysql[src] {
			if iv.lo == iv.hi {
				fmt.Fprintf(&b, ":%d", iv.lo)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.lo, iv.hi)
			}
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}
