package main

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on a machine without zoneinfo
)

// TestParseDatetimeDST checks datetime flags in a zone with daylight
// saving time: a wall-clock time the clocks skip, or pass twice, names no
// instant or two, and is refused; others parse to their one instant, and
// RFC 3339 names the instant whatever the zone.
func TestParseDatetimeDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, want, refused string
	}{
		{in: "2026-03-29 01:59:59", want: "2026-03-29T00:59:59Z"},
		{in: "2026-03-29 02:30:00", refused: "does not exist"},
		{in: "2026-03-29 03:00:00", want: "2026-03-29T01:00:00Z"},
		{in: "2026-10-25 01:59:00", want: "2026-10-24T23:59:00Z"},
		{in: "2026-10-25 02:30:00", refused: "happens twice"},
		{in: "2026-10-25 02:30:00.5", refused: "happens twice"},
		{in: "2026-10-25 03:00:00", want: "2026-10-25T02:00:00Z"},
		{in: "2026-10-25T02:30:00+01:00", want: "2026-10-25T01:30:00Z"},
		{in: "2026-10-25T02:30:00+02:00", want: "2026-10-25T00:30:00Z"},
		{in: "2026-12-07 10:00:00.25", want: "2026-12-07T09:00:00.25Z"},
		{in: "2026-12-07", want: "2026-12-06T23:00:00Z"},
	} {
		got, err := parseDatetimeIn(c.in, berlin)
		switch {
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%q: got %v, %v; want an error saying %q", c.in, got, err, c.refused)
		case c.refused == "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.refused == "" && got.UTC().Format(time.RFC3339Nano) != c.want:
			t.Errorf("%q: got %s, want %s", c.in, got.UTC().Format(time.RFC3339Nano), c.want)
		}
	}
	if _, err := parseDatetimeIn("2026-10-25 02:30:00", time.UTC); err != nil {
		t.Errorf("in UTC: %v", err)
	}
}
