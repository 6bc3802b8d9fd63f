package main

import (
	"testing"
	"time"
)

// FuzzParsePosition parses FILE:POS as the flags --start-position,
// --stop-position and --source-start take it: an error or a position
// whose text parses back to itself.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"mysql-bin.000042:1234", "a:b:4", ":4", "x:", "x:-1", "x:18446744073709551615", "ü:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePosition("start-position", s)
		if err != nil || s == "" {
			return
		}
		if p.File == "" {
			t.Fatalf("parsePosition(%q) = %+v: no file", s, p)
		}
		again, err := parsePosition("start-position", p.String())
		if err != nil || again != p {
			t.Fatalf("parsePosition(%q) = %+v, whose text %q parses as %+v, %v", s, p, p.String(), again, err)
		}
	})
}

// FuzzByteSize sets a size flag (--group-bytes, --memory and the like)
// from the fuzzer's text: an error or a size that is not negative and
// whose text sets the same size.
func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"64M", "1g", "512", "10KB", " 3 M ", "-1", "9223372036854775807", "4611686018427387904K"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b byteSize
		if err := b.Set(s); err != nil {
			return
		}
		var again byteSize
		if b < 0 || again.Set(b.String()) != nil || again != b {
			t.Fatalf("Set(%q) = %d, whose text %q sets %d", s, b, b.String(), again)
		}
	})
}

// FuzzParseDatetime parses a --stop-datetime value: an error or a time
// whose RFC 3339 text parses back to the same instant.
func FuzzParseDatetime(f *testing.F) {
	for _, s := range []string{"2026-11-20 14:03:00", "2026-11-20T14:03:00.123456+01:00", "2026-11-20", "2026-02-30 00:00:00", "0000-01-01 00:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseDatetime(s)
		if err != nil || s == "" {
			return
		}
		again, err := parseDatetime(tm.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(tm) {
			t.Fatalf("parseDatetime(%q) = %v, whose RFC 3339 text parses as %v, %v", s, tm, again, err)
		}
	})
}
