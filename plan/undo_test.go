package plan

import "testing"

// TestUndoCommand checks the undo command plan prints: the binlogs'
// directory when they share one, else the files, else a placeholder.
func TestUndoCommand(t *testing.T) {
	c := &Candidate{Undo: []string{"--start-position b.000002:4", "--stop-position b.000002:90"}}
	for _, tc := range []struct {
		files []FileInfo
		want  string
	}{
		{[]FileInfo{{Path: "/logs/b.000001"}, {Path: "/logs/b.000002"}}, "/logs/"},
		{[]FileInfo{{Path: "/a/b.000001"}, {Path: "/b/b.000002"}}, "/a/b.000001 /b/b.000002"},
		{nil, "BINLOGS..."},
	} {
		want := "binlog-replay undo --target DSN --start-position b.000002:4 --stop-position b.000002:90 " + tc.want
		if got := undoCommand(c, tc.files); got != want {
			t.Errorf("files %v: got %q, want %q", tc.files, got, want)
		}
	}
}
