package sandbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Ports: a server keeps its TCP port across restarts (Snapshot, Restart,
// a crash test), while it is down for a moment. A port the kernel hands
// out for 127.0.0.1:0 could then go to a listener or client socket of
// anyone, or to another process's sandbox picking ports the same way, and
// the restart fail ("Address already in use"), or a test reach another
// test's server. So a sandbox port comes from below the kernel's
// ephemeral range (which no :0 socket gets) and is reserved, for the
// server's life, by an flock on a file named after it that every sandbox
// process respects.

// portRange returns the range sandbox ports are drawn from: below the
// kernel's ephemeral ports.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil && first > 10000 && first < hi {
				hi = first
				lo = min(lo, hi-4096)
			}
		}
	}
	return lo, hi
}

// reservePort picks a free port and reserves it; the returned file holds
// the reservation until it is closed.
func reservePort() (int, *os.File, error) {
	dir := filepath.Join(os.TempDir(), "binlog-replay-sandbox-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, nil, fmt.Errorf("pick a port: %w", err)
	}
	lo, hi := portRange()
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return 0, nil, fmt.Errorf("pick a port: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
				continue // another sandbox's
			}
			return 0, nil, fmt.Errorf("pick a port: lock: %w", err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			f.Close() // in use by something else
			continue
		}
		l.Close()
		return port, f, nil
	}
	return 0, nil, errors.New("pick a port: no free port found in 200 tries")
}
