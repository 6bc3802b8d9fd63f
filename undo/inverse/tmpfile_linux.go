//go:build linux

package inverse

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// createUnlinked creates a file in dir that never has a name (O_TMPFILE):
// a process killed at any moment leaves nothing behind, where a file
// created and then unlinked is left whole by a kill between the two. ok is
// false where the file system or the kernel does not offer it.
func createUnlinked(dir string) (f *os.File, ok bool, err error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	switch {
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("create the undo's spool file in %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(undo spool, unnamed)")), true, nil
}
