package preflight_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/preflight"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestCalibrate compares the estimate with the real replay on kept bench
// inputs (docs/preflight.md, "How the estimate was calibrated"). It runs
// only when PREFLIGHT_CALIBRATE names a base datadir and the binlogs that
// follow it, as BASE:BINLOG,BINLOG..., e.g. from `bench --keep`:
//
//	PREFLIGHT_CALIBRATE=/tmp/binlog-replay-bench-N/oltp-base:/tmp/binlog-replay-bench-N/oltp-source/mysql-bin.000002,... \
//	    go test ./preflight -run TestCalibrate -v -timeout 30m
//
// PREFLIGHT_CALIBRATE_WORKERS (default 4) is the workers, and
// PREFLIGHT_CALIBRATE_ARGS extra mariadbd arguments of the target (e.g.
// --log-bin=... to calibrate a target that writes its binlog).
func TestCalibrate(t *testing.T) {
	spec := os.Getenv("PREFLIGHT_CALIBRATE")
	if spec == "" {
		t.Skip("PREFLIGHT_CALIBRATE not set")
	}
	base, list, ok := strings.Cut(spec, ":")
	if !ok {
		t.Fatal("PREFLIGHT_CALIBRATE: want BASE:BINLOG,BINLOG...")
	}
	files, err := logfile.Resolve(strings.Split(list, ","))
	if err != nil {
		t.Fatal(err)
	}
	workers := 4
	if w := os.Getenv("PREFLIGHT_CALIBRATE_WORKERS"); w != "" {
		fmt.Sscan(w, &workers)
	}
	args := []string{"--innodb-buffer-pool-size=1G"} // as bench's targets
	if a := os.Getenv("PREFLIGHT_CALIBRATE_ARGS"); a != "" {
		args = append(args, strings.Fields(a)...)
	}
	ctx := context.Background()
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: base, Durable: true, Args: args})
	po := preflight.Options{TargetDSN: tgt.DSN(""), Selection: preflight.Selection{Files: files}, Workers: workers}
	t0 := time.Now()
	rep, err := preflight.Run(ctx, po)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	var text strings.Builder
	if err := preflight.WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("preflight (%s):\n%s", took.Round(time.Millisecond), text.String())
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.Apply.Workers = files, tgt.DSN(""), workers
	cpu0, srv0 := selfCPU(), procCPU(tgt.Pid)
	sum, err := replay.Run(ctx, ro, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	real := sum.Elapsed.Seconds()
	t.Logf("CPU during the replay: client %.2f s, server %.2f s", selfCPU()-cpu0, procCPU(tgt.Pid)-srv0)
	t.Logf("CALIBRATION: estimate %.2f s (%.2f..%.2f), replay %.2f s (%d transactions, %d workers): estimate/real %.2f",
		rep.ETA.Seconds, rep.ETA.LowSeconds, rep.ETA.HighSeconds, real, sum.Applied, workers, rep.ETA.Seconds/real)
}

// selfCPU is this process's user and system CPU time, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procCPU is process pid's user and system CPU time, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var u, s float64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return (u + s) / 100
}
