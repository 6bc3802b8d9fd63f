package txn

import (
	"strings"
	"testing"
)

func TestGTIDSetSubtract(t *testing.T) {
	// u and v stand for two server UUIDs.
	expand := strings.NewReplacer("u:", "3e11fa47-71ca-11e1-9e33-c80aa9429562:", "v:", "896e7882-18fe-11ef-ab88-22222d34d411:")
	for _, c := range []struct{ a, b, want string }{
		{"u:1-10", "u:1-10", ""},
		{"u:1-10", "u:3-4:8", "u:1-2:5-7:9-10"},
		{"u:1-10,v:1-3", "u:1-20", "v:1-3"},
		{"u:5-10", "u:1-6:9-30", "u:7-8"},
		{"0-1-100,1-1-5", "0-2-100,1-1-9", ""},
		{"0-1-100,1-1-5", "0-2-50", "0-1-100,1-1-5"},
	} {
		a, err := ParseGTIDSet(expand.Replace(c.a))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseGTIDSet(expand.Replace(c.b))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Subtract(b).String(); got != expand.Replace(c.want) {
			t.Errorf("%s minus %s = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestGTIDSetAddInOrder(t *testing.T) {
	var s GTIDSet
	for _, n := range []uint64{1, 2, 3, 5, 4, 9, 9, 8} {
		s.Add(GTID{Flavor: FlavorMySQL, Source: "u", Seq: n})
	}
	s.AddRange("u", 10, 12)
	if got := s.String(); got != "u:1-5:8-12" {
		t.Fatalf("got %q, want u:1-5:8-12", got)
	}
}
