package seedgen

import (
	"reflect"
	"testing"
)

func TestParseFeaturesCompact(t *testing.T) {
	for _, in := range []string{"", "all", "stable", "stable-chaos", "all,-kill,-xa", "stable,kill", "uk,fk", "all,xa"} {
		fs, err := ParseFeatures(in)
		if err != nil {
			t.Fatalf("ParseFeatures(%q): %v", in, err)
		}
		back, err := ParseFeatures(fs.Compact())
		if err != nil || !reflect.DeepEqual(back, fs) {
			t.Errorf("ParseFeatures(%q).Compact() = %q reads back as %v, %v", in, fs.Compact(), back, err)
		}
	}
	if fs, _ := ParseFeatures("all"); fs[FeatXA] {
		t.Error("all includes xa, an opt-in feature")
	}
	if _, err := ParseFeatures("all,nosuch"); err == nil {
		t.Error("an unknown feature was accepted")
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	mask, _ := ParseFeatures("all,xa")
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := Generate(NewPlan(seed, mask, ""), "/d"), Generate(NewPlan(seed, mask, ""), "/d")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two generations differ", seed)
		}
	}
	// Switching a replay feature off leaves the workload as it was.
	noKill, _ := ParseFeatures("all,-kill")
	p1, p2 := NewPlan(7, mask, ""), NewPlan(7, noKill, "")
	delete(p1.Features, FeatKill)
	delete(p1.Features, FeatXA)
	if !reflect.DeepEqual(p1.Features, p2.Features) {
		t.Errorf("features %s and %s: removing kill changed others", p1.Features, p2.Features)
	}
}
