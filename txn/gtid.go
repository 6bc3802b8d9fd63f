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
// ("d-s-n") syntax.
func ParseGTID(s string) (GTID, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		seq, err := strconv.ParseUint(s[i+1:], 10, 64)
		if err != nil || seq == 0 {
			return GTID{}, fmt.Errorf("parse GTID %q: bad sequence number", s)
		}
		return GTID{Flavor: FlavorMySQL, Source: strings.ToLower(s[:i]), Seq: seq}, nil
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
