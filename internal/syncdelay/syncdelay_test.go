package syncdelay

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// build returns the library, or skips t when there is no C compiler
// (under CI=true, where .ci/run installs one, it fails instead).
func build(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil && os.Getenv("CC") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no C compiler (cc): scripts/install-mariadb.sh installs gcc")
		}
		t.Skip("no C compiler")
	}
	lib, err := Build(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// syncTime returns how long dd takes to write one block and sync it with
// conv (fsync or fdatasync), with env added to its environment.
func syncTime(t *testing.T, conv string, env []string) time.Duration {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "dd", "if=/dev/zero", "of="+filepath.Join(t.TempDir(), "f"),
		"bs=4096", "count=1", "conv="+conv)
	cmd.Env = append(os.Environ(), env...)
	begin := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dd conv=%s: %v: %s", conv, err, out)
	}
	return time.Since(begin)
}

// TestDelay checks that fsync and fdatasync wait the delay with the
// library preloaded, and that without its environment dd is fast.
func TestDelay(t *testing.T) {
	if _, err := exec.LookPath("dd"); err != nil {
		t.Skip("no dd")
	}
	lib := build(t)
	const d = 300 * time.Millisecond
	for _, conv := range []string{"fsync", "fdatasync"} {
		plain := syncTime(t, conv, nil)
		slow := syncTime(t, conv, Env(lib, d))
		t.Logf("dd conv=%s: %s, with the library and %s: %s", conv, plain, d, slow)
		if slow < d {
			t.Errorf("dd conv=%s took %s with a %s delay", conv, slow, d)
		}
		if plain >= d {
			t.Errorf("dd conv=%s took %s without the library", conv, plain)
		}
	}
}

// TestNoCompiler fails Build with a message naming the missing compiler.
func TestNoCompiler(t *testing.T) {
	t.Setenv("CC", "no-such-compiler-binlog-replay")
	if _, err := Build(t.Context(), t.TempDir()); err == nil {
		t.Fatal("built without a compiler")
	}
}
