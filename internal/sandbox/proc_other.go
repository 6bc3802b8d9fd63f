//go:build !linux

package sandbox

import (
	"os"
	"syscall"
)

// childAttr puts a server in its own process group. Outside Linux there is no
// parent-death signal: a test binary killed before Close leaves its servers
// running (see the package doc).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// dataExtent reports all of [off, size) as data: hole detection by seeking
// is used on Linux only.
func dataExtent(f *os.File, off, size int64) (start, end int64) {
	return off, size
}
