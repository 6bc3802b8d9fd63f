package preflight

import (
	"fmt"
	"syscall"
)

// DiskSpace is a filesystem's size and the space free for an unprivileged
// writer (the server does not run as root, in general).
type DiskSpace struct {
	Path  string `json:"path"`
	Total uint64 `json:"total_bytes"`
	Free  uint64 `json:"free_bytes"`
	// Device tells filesystems apart: two paths on the same one are
	// counted once.
	Device uint64 `json:"-"`
}

// StatfsFunc returns the space of the filesystem holding path.
type StatfsFunc func(path string) (DiskSpace, error)

// Statfs is the StatfsFunc of this machine: statfs(2), and stat(2) for
// the device.
func Statfs(path string) (DiskSpace, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return DiskSpace{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return DiskSpace{}, fmt.Errorf("stat %s: %w", path, err)
	}
	bs := uint64(fs.Bsize)
	return DiskSpace{Path: path, Total: fs.Blocks * bs, Free: fs.Bavail * bs, Device: uint64(st.Dev)}, nil
}
