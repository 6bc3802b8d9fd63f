package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// fakeTB records Fatalf and Skipf instead of ending the real test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runRequire(t *testing.T, err error, ci bool) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		requireServer(f, err, ci)
	}()
	<-done
	return f
}

func TestRequireServer(t *testing.T) {
	missing := errors.New("find mariadbd: not found")
	if f := runRequire(t, missing, true); f.fatal == "" || f.skip != "" {
		t.Errorf("CI=true, MariaDB missing: fatal=%q skip=%q, want a failure", f.fatal, f.skip)
	}
	if f := runRequire(t, missing, false); f.skip == "" || f.fatal != "" {
		t.Errorf("locally, MariaDB missing: fatal=%q skip=%q, want a skip", f.fatal, f.skip)
	}
	for _, ci := range []bool{true, false} {
		if f := runRequire(t, nil, ci); f.skip != "" || f.fatal != "" {
			t.Errorf("MariaDB present, CI=%v: fatal=%q skip=%q, want neither", ci, f.fatal, f.skip)
		}
	}
}
