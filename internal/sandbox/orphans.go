package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile, in a server dir, holds the pid of the process that started the
// server. It lets a later Start find and remove dirs left behind by a test
// binary that was killed before it could Close its servers.
const ownerFile = "owner.pid"

// dirPrefix starts the name of every server dir.
const dirPrefix = "mdb-"

// writeOwner records this process as the owner of the server dir.
func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// removeOrphans removes the server dirs in base whose owner process and
// server process are both gone. Dirs without an owner file (being set up, or
// not ours) and dirs whose pids cannot be read are left alone; a reused owner
// pid only delays the removal. Errors are ignored: this is housekeeping.
func removeOrphans(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		owner, ok := readPid(filepath.Join(dir, ownerFile))
		if !ok || pidExists(owner) {
			continue
		}
		if server, ok := readPid(filepath.Join(dir, "mysqld.pid")); ok && pidExists(server) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// readPid reads a pid file.
func readPid(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

// pidExists reports whether a live process with this pid exists. Processes of
// other users count; zombies do not (a server whose parent died is a zombie
// until init reaps it). Where there is no /proc it falls back to kill(pid, 0),
// which counts zombies too.
func pidExists(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return false // /proc works: no such process
		}
		err := syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	return len(fields) == 0 || (fields[0] != "Z" && fields[0] != "X")
}
