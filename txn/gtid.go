package txn

import (
	"fmt"
	"strconv"
	"strings"
)

// GTID is a transaction's global id in either flavor. For MySQL, Source is
// the server UUID (with ":tag" for tagged GTIDs) and Domain is zero; for
// MariaDB, Domain and Server come from "domain-server-seq".
type GTID struct {
	Flavor Flavor
	Domain uint32
	Server uint32
	Source string
	Seq    uint64
}

// IsZero reports whether g is unset.
func (g GTID) IsZero() bool { return g.Seq == 0 && g.Source == "" }

// String formats g in its flavor's syntax: "uuid:seq" or "d-s-seq".
func (g GTID) String() string {
	switch {
	case g.IsZero():
		return ""
	case g.Flavor == FlavorMariaDB:
		return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq)
	default:
		return fmt.Sprintf("%s:%d", g.Source, g.Seq)
	}
}

// ParseGTID parses a single GTID in MySQL ("uuid[:tag]:n") or MariaDB
// ("d-s-n") syntax. Sequence number 0 names no transaction: it is an
// error in either syntax.
func ParseGTID(s string) (GTID, error) {
	g, err := parseGTID(s)
	if err == nil && g.IsZero() {
		return GTID{}, fmt.Errorf("parse GTID %q: sequence number 0 names no transaction", s)
	}
	return g, err
}

// parseGTID is ParseGTID allowing a MariaDB sequence number of 0, which a
// replication position may hold (ParseGTIDSet).
func parseGTID(s string) (GTID, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		seq, err := strconv.ParseUint(s[i+1:], 10, 64)
		if err != nil || seq == 0 {
			return GTID{}, fmt.Errorf("parse GTID %q: bad sequence number", s)
		}
		source := strings.ToLower(s[:i])
		uuid, tag, tagged := strings.Cut(source, ":")
		if err := checkSource(uuid, tag, tagged); err != nil {
			return GTID{}, fmt.Errorf("parse GTID %q: %w", s, err)
		}
		return GTID{Flavor: FlavorMySQL, Source: source, Seq: seq}, nil
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return GTID{}, fmt.Errorf("parse GTID %q: want uuid:n or domain-server-seq", s)
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return GTID{}, fmt.Errorf("parse GTID %q: %w", s, err)
		}
		n[i] = v
	}
	if n[0] > 1<<32-1 || n[1] > 1<<32-1 {
		return GTID{}, fmt.Errorf("parse GTID %q: domain or server id out of range", s)
	}
	return GTID{Flavor: FlavorMariaDB, Domain: uint32(n[0]), Server: uint32(n[1]), Seq: n[2]}, nil
}

// checkSource checks a MySQL GTID's server UUID (8-4-4-4-12 hexadecimal
// digits) and, when tagged, its tag (a letter or underscore, then up to 31
// letters, digits or underscores, as MySQL 8.3+ allows).
func checkSource(uuid, tag string, tagged bool) error {
	if len(uuid) != 36 {
		return fmt.Errorf("server UUID %q: want 8-4-4-4-12 hexadecimal digits", uuid)
	}
	for i := 0; i < len(uuid); i++ {
		c := uuid[i]
		dash := i == 8 || i == 13 || i == 18 || i == 23
		if dash != (c == '-') || !dash && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("server UUID %q: want 8-4-4-4-12 hexadecimal digits", uuid)
		}
	}
	if !tagged {
		return nil
	}
	if tag == "" || len(tag) > 32 {
		return fmt.Errorf("GTID tag %q: want 1 to 32 characters", tag)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return fmt.Errorf("GTID tag %q: want a letter or _ then letters, digits or _", tag)
		}
	}
	return nil
}
