package main

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "256M": 256 << 20, "1g": 1 << 30, "64KB": 64 << 10, " 2G ": 2 << 30} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "1.5G", "12T", "99999999999G"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted: %d", bad, b)
		}
	}
	for n, want := range map[int64]string{256 << 20: "256M", 1 << 30: "1G", 1536: "1536", 3 << 10: "3K"} {
		b := byteSize(n)
		if got := b.String(); got != want {
			t.Errorf("String(%d) = %q, want %q", n, got, want)
		}
	}
}
