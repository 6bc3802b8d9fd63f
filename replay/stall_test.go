package replay_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/replay"
)

// syncLog is a log the replay's goroutines may write to at once.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStallReported holds a row the replay needs: while no transaction
// commits, the replay must say every StallReport what its sessions on the
// target are doing, naming the statement that waits.
func TestStallReported(t *testing.T) {
	sc := lockScenario(t)
	tgt, db := sc.Target(t)
	defer holdLock(t, db)()
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Recovery.LockWaitTimeout, o.Recovery.MaxRetries, o.Report.StallReport = 2*time.Second, 1, 500*time.Millisecond
	var log syncLog
	_, err := replay.Run(context.Background(), o, &log)
	var ae *replay.ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("replay against a locked row: %v, want an *ApplyError", err)
	}
	out := log.String()
	if !strings.Contains(out, "still applying: no transaction committed for") || !strings.Contains(out, "on the target: session ") ||
		!strings.Contains(out, "BINLOG") {
		t.Fatalf("no stall report naming the waiting statement; log:\n%s", out)
	}
	t.Logf("log:\n%s", out)
}
