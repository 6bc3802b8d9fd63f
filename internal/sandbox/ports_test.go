package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestReservePort: reserved ports are below the kernel's ephemeral range,
// distinct while held, and each reservation is an flock another process
// (here another open file) cannot take.
func TestReservePort(t *testing.T) {
	lo, hi := portRange()
	seen := map[int]bool{}
	var held []*os.File
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	for range 30 {
		port, f, err := reservePort()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
		if port < lo || port >= hi || seen[port] {
			t.Fatalf("port %d: outside [%d, %d) or reserved twice", port, lo, hi)
		}
		seen[port] = true
		other, err := os.Open(filepath.Join(os.TempDir(), "binlog-replay-sandbox-ports", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			t.Errorf("port %d: its reservation could be taken again while held", port)
		}
		other.Close()
	}
}
