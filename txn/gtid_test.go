package txn

import (
	"strings"
	"testing"
)

// TestTaggedGTIDs checks MySQL 8.3+ tagged GTIDs (uuid:tag:n) through
// parsing, sets and printing: a tag is part of the source, compared
// without case as MySQL does.
func TestTaggedGTIDs(t *testing.T) {
	const uuid = "896e7882-18fe-11ef-ab88-22222d34d411"
	g, err := ParseGTID(uuid + ":Batch_7:42")
	if err != nil {
		t.Fatal(err)
	}
	if g.Flavor != FlavorMySQL || g.Source != uuid+":batch_7" || g.Seq != 42 || g.String() != uuid+":batch_7:42" {
		t.Errorf("ParseGTID: %+v (%s)", g, g)
	}
	s, err := ParseGTIDSet(uuid + ":1-4:aaaa:1:abc:1-3," + uuid[:35] + "2:1-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		source string
		seq    uint64
		in     bool
	}{
		{uuid, 4, true}, {uuid, 5, false},
		{uuid + ":aaaa", 1, true}, {uuid + ":aaaa", 2, false},
		{uuid + ":abc", 3, true}, {uuid + ":abc", 4, false},
		{uuid + ":x", 1, false}, // a tag not in the set
		{uuid[:35] + "2", 2, true},
	} {
		if got := s.Contains(GTID{Flavor: FlavorMySQL, Source: c.source, Seq: c.seq}); got != c.in {
			t.Errorf("%s contains %s:%d = %v", s, c.source, c.seq, got)
		}
	}
	back, err := ParseGTIDSet(s.String())
	if err != nil || back.String() != s.String() {
		t.Errorf("round trip of %s: %s, %v", s, back, err)
	}
	for _, bad := range []string{
		uuid + ":abc",       // a tag without an interval
		uuid + ":1-3:abc",   // the same, last
		uuid + ":abc:def:1", // the same, first
		uuid + ":9tag:1",    // a tag starting with a digit
		uuid + ":" + strings.Repeat("t", 33) + ":1", // a tag too long
		"not-a-uuid:1-5",
		uuid[:35] + "g:1",
		uuid,
	} {
		if set, err := ParseGTIDSet(bad); err == nil {
			t.Errorf("ParseGTIDSet(%q) = %s, no error", bad, set)
		}
	}
	for _, bad := range []string{"abc:5", uuid + ":a-b:5", uuid + ":0"} {
		if g, err := ParseGTID(bad); err == nil {
			t.Errorf("ParseGTID(%q) = %s, no error", bad, g)
		}
	}
}
