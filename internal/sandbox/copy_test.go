package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated returns the bytes a file occupies on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

func TestCopyTreeSparse(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "sub", "deeper"), 0o750); err != nil {
		t.Fatal(err)
	}
	// 8 MiB: data at the start, written zeros, a real hole, data, and a
	// trailing hole; plus an empty file, a small file and a symlink.
	big := make([]byte, 8<<20)
	copy(big, "head")
	copy(big[5<<20+3:], "middle")
	f, err := os.Create(filepath.Join(src, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(big[:2<<20], 0); err != nil { // zeros written
		t.Fatal(err)
	}
	if _, err := f.WriteAt(big[5<<20:6<<20], 5<<20); err != nil { // after a hole
		t.Fatal(err)
	}
	if err := f.Truncate(int64(len(big))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	files := map[string][]byte{"empty": nil, "sub/small": []byte("abc"), "sub/deeper/odd": bytes.Repeat([]byte{1}, copyBlock+7)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	files["big"] = big
	if err := os.Symlink("sub/small", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "dst")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: copy differs (len %d, want %d)", name, len(got), len(want))
		}
	}
	if st, err := os.Stat(filepath.Join(dst, "sub", "small")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("sub/small mode = %v, %v; want 0640", st.Mode(), err)
	}
	if link, err := os.Readlink(filepath.Join(dst, "link")); err != nil || link != "sub/small" {
		t.Errorf("link = %q, %v; want sub/small", link, err)
	}
	if got := allocated(t, filepath.Join(dst, "big")); got > 1<<20 {
		t.Errorf("big copy occupies %d bytes, want a sparse file under 1 MiB", got)
	}

	// Into an existing empty directory: fine. Into a non-empty one: error.
	empty := t.TempDir()
	if err := copyTree(src, empty); err != nil {
		t.Errorf("copy into empty dir: %v", err)
	}
	if err := copyTree(src, dst); err == nil {
		t.Error("copy into non-empty dir succeeded")
	}
	if err := copyTree(filepath.Join(src, "big"), filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("copy of a regular file as a tree succeeded")
	}
}
