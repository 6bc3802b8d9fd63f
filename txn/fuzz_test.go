package txn

import (
	"strings"
	"testing"
)

// FuzzParseGTID parses a GTID as given on the command line
// (--stop-before-gtid): an error or a GTID that is set and that parses
// back from its text to itself.
func FuzzParseGTID(f *testing.F) {
	for _, s := range []string{"0-1-100", " 4294967295-7-1 ", "3E11FA47-71CA-11E1-9E33-C80AA9429562:23",
		"896e7882-18fe-11ef-ab88-22222d34d411:tag_1:5", "0-1-0", "a-b-c", "uuid:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGTID(s)
		if err != nil {
			return
		}
		if g.IsZero() {
			t.Fatalf("ParseGTID(%q) = the zero GTID, without an error", s)
		}
		again, err := ParseGTID(g.String())
		if err != nil || again != g {
			t.Fatalf("ParseGTID(%q) = %+v, whose text %q parses as %+v, %v", s, g, g.String(), again, err)
		}
	})
}

// FuzzParseGTIDSet parses a GTID set as given on the command line or in a
// backup's metadata (--start-gtid, --exclude-gtids, --from-backup): an
// error or a set whose text parses back to the same set, which holds every
// GTID listed alone in the input, and which is unchanged by a union with
// itself and emptied by subtracting itself.
func FuzzParseGTIDSet(f *testing.F) {
	for _, s := range []string{"0-1-100,1-2-50", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,0-1-3",
		"896e7882-18fe-11ef-ab88-22222d34d411:1-3:tag:5-9:other:1", "", " , ", "0-1-0",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseGTIDSet(s)
		if err != nil {
			return
		}
		text := set.String()
		again, err := ParseGTIDSet(text)
		if err != nil || again.String() != text {
			t.Fatalf("ParseGTIDSet(%q) = %q, which parses as %q, %v", s, text, again.String(), err)
		}
		for _, part := range strings.Split(s, ",") {
			if g, err := ParseGTID(part); err == nil && !set.Contains(g) {
				t.Fatalf("ParseGTIDSet(%q) = %q lacks %s", s, text, g)
			}
		}
		union, _ := ParseGTIDSet(text)
		union.Union(set)
		if union.String() != text || !set.Subtract(set).IsEmpty() {
			t.Fatalf("%q: union with itself %q, minus itself %q", text, union.String(), set.Subtract(set).String())
		}
	})
}
