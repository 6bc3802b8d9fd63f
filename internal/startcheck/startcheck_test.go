package startcheck

import (
	"path/filepath"
	"testing"
)

func TestPreviousFile(t *testing.T) {
	files := []string{"/b/mysql-bin.000007", "/b/mysql-bin.000009"}
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"mysql-bin.000009", files, "mysql-bin.000007"}, // the files given, with a gap
		{"mysql-bin.000007", files, ""},                 // the first given
		{"mysql-bin.000008", files, ""},                 // not given
		{"mysql-bin.000010", nil, "mysql-bin.000009"},   // a source's numbering
		{"mysql-bin.1000", nil, "mysql-bin.0999"},
		{"mysql-bin.000001", nil, ""},
		{"mysql-bin", nil, ""},
	} {
		if got := PreviousFile(c.name, c.files, filepath.Base); got != c.want {
			t.Errorf("PreviousFile(%q, %v) = %q, want %q", c.name, c.files, got, c.want)
		}
	}
}
