package sandbox

import (
	"context"
	"os"
	"testing"
)

// ForTest starts a server for the test t and registers t.Cleanup to close
// it. When MariaDB is not installed it skips the test, unless the environment
// variable CI is "true", where a missing server is a failure (t.Fatal). If
// Start fails, or the test has failed by the time of cleanup, the tail of the
// server's error log is logged.
func ForTest(t testing.TB, opts Options) *Server {
	t.Helper()
	requireServer(t, Available(), os.Getenv("CI") == "true")
	// Not t.Context(): it ends before cleanups run, and Start's ctx bounds
	// only the start-up anyway.
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start sandbox server: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sandbox server %s (port %d) error log tail:\n%s", s.Dir, s.Port, tailFile(s.ErrorLog, 40))
		}
		if err := s.Close(); err != nil {
			t.Errorf("close sandbox server: %v", err)
		}
	})
	return s
}

// requireServer skips t, or fails it when ci is true, if availErr is not nil.
func requireServer(t testing.TB, availErr error, ci bool) {
	t.Helper()
	if availErr == nil {
		return
	}
	if ci {
		t.Fatalf("MariaDB is required when CI=true: %v", availErr)
	}
	t.Skipf("MariaDB not installed: %v", availErr)
}
