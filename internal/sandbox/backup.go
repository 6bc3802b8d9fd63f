package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// BackupTool returns the path of mariadb-backup (mariabackup), from the
// distribution's package mariadb-backup.
func BackupTool() (string, error) {
	for _, name := range []string{"mariadb-backup", "mariabackup"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mariadb-backup is not installed (apt-get install mariadb-backup)")
}

// HotBackup takes a base backup of the running server into dir with
// mariadb-backup, while clients may write, and prepares it: dir can then
// be Options.FromDatadir, and holds the binlog position the backup
// recorded (xtrabackup_binlog_info). The error carries the tail of the
// tool's output.
func (s *Server) HotBackup(ctx context.Context, dir string) error {
	tool, err := BackupTool()
	if err != nil {
		return fmt.Errorf("hot backup: %w", err)
	}
	steps := [][]string{
		{"--backup", "--user=root", "--socket=" + s.Socket, "--datadir=" + s.Datadir, "--target-dir=" + dir},
		{"--prepare", "--target-dir=" + dir},
	}
	for _, args := range steps {
		if out, err := exec.CommandContext(ctx, tool, append([]string{"--no-defaults"}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("hot backup: mariadb-backup %s: %w\n%s", args[0], err, lastLines(string(out), 15))
		}
	}
	return nil
}

// lastLines returns the last n lines of out.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
