package sandbox

import (
	"errors"
	"os"
	"syscall"
)

// childAttr puts a server in its own process group (so a terminal's Ctrl-C
// reaches only the test binary, which then stops it cleanly) and asks the
// kernel to SIGKILL it if the process that started it dies without stopping
// it, so that an interrupted or crashed test binary leaves no server behind.
//
// Linux delivers Pdeathsig when the OS thread that forked the child exits.
// The Go runtime only ends a thread when a goroutine that called
// runtime.LockOSThread returns while still locked; callers of Start must not
// do that, or the server is killed early.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Linux lseek whence values for sparse files.
const (
	seekData = 3 // SEEK_DATA
	seekHole = 4 // SEEK_HOLE
)

// dataExtent returns the first extent of f holding data at or after off, as
// [start, end). A file system without SEEK_DATA support reports all of
// [off, size) as data; a file with only a hole left gives start == end ==
// size.
func dataExtent(f *os.File, off, size int64) (start, end int64) {
	start, err := f.Seek(off, seekData)
	if errors.Is(err, syscall.ENXIO) {
		return size, size // only a hole is left
	}
	if err != nil {
		return off, size
	}
	end, err = f.Seek(start, seekHole)
	if err != nil || end > size {
		end = size
	}
	return start, end
}
