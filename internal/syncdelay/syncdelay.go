// Package syncdelay makes a server's disk flushes slow, as on a
// network-attached cloud disk, where every flush waits for the storage
// service: a small shared library, compiled on this machine with the C
// compiler, that the server loads with LD_PRELOAD and that makes each
// fsync and fdatasync wait a fixed time before it syncs. bench uses it for
// --commit-latency.
//
// MariaDB and MySQL make a commit durable with fdatasync or fsync on the
// redo log (and the binlog, when sync_binlog=1), so with
// innodb_flush_log_at_trx_commit=1 every commit waits the delay once, a
// group commit once for the group; background flushes of data pages wait
// it too. Writes themselves are not slowed, nor files opened with O_SYNC
// or O_DSYNC (innodb_flush_method=O_DSYNC). It needs neither root nor a
// kernel module, and nothing outlives the process: the library is only
// loaded where the environment of Env is given.
package syncdelay

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

//go:embed c/syncdelay.c
var source []byte

// delayVar is the environment variable the library reads its delay from,
// in nanoseconds.
const delayVar = "BINLOG_REPLAY_SYNC_DELAY_NS"

// Build compiles the library into dir with $CC (default cc) and returns
// its path. It fails when there is no C compiler.
func Build(ctx context.Context, dir string) (string, error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("build the fsync delay library: no C compiler: %w", err)
	}
	src := filepath.Join(dir, "syncdelay.c")
	lib := filepath.Join(dir, "syncdelay.so")
	if err := os.WriteFile(src, source, 0o600); err != nil {
		return "", fmt.Errorf("build the fsync delay library: %w", err)
	}
	out, err := exec.CommandContext(ctx, cc, "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the fsync delay library with %s: %w: %s", cc, err, strings.TrimSpace(string(out)))
	}
	return lib, nil
}

// Env returns the environment variables that make a process started with
// them wait d in every fsync and fdatasync, using the library lib (from
// Build).
func Env(lib string, d time.Duration) []string {
	return []string{"LD_PRELOAD=" + lib, fmt.Sprintf("%s=%d", delayVar, d.Nanoseconds())}
}
