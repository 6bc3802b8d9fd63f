package soak

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"
)

// runSessionsWithBackup runs the sessions (runSessions) and, delay after
// they start, takes the base with mariabackup while they write
// (FeatHotBackup); once they are done it prepares the backup into
// src.Base and reads the binlog position the backup recorded as the
// start.
func (src *Source) runSessionsWithBackup(ctx context.Context, srv *sandbox.Server, sessions [][]seedgen.Script, delay time.Duration) error {
	tool, err := mariabackupPath()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- src.runSessions(ctx, srv, sessions) }()
	var sessionsErr error
	ended := false
	select {
	case <-time.After(delay):
	case sessionsErr = <-done:
		ended = true
	}
	out, backupErr := exec.CommandContext(ctx, tool, "--no-defaults", "--backup", "--user=root",
		"--socket="+srv.Socket, "--datadir="+srv.Datadir, "--target-dir="+src.Base).CombinedOutput()
	if !ended {
		sessionsErr = <-done
	}
	if backupErr != nil {
		return errors.Join(sessionsErr, fmt.Errorf("hot backup: mariabackup --backup: %w\n%s", backupErr, lastLines(out, 15)))
	}
	if sessionsErr != nil {
		return sessionsErr
	}
	if out, err := exec.CommandContext(ctx, tool, "--no-defaults", "--prepare", "--target-dir="+src.Base).CombinedOutput(); err != nil {
		return fmt.Errorf("hot backup: mariabackup --prepare: %w\n%s", err, lastLines(out, 15))
	}
	src.StartFile, src.StartPos, src.StartGTID, err = backupBinlogInfo(src.Base)
	return err
}

// mariabackupPath finds mariabackup (package mariadb-backup).
func mariabackupPath() (string, error) {
	for _, name := range []string{"mariadb-backup", "mariabackup"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("hot backup: mariadb-backup is not installed (apt-get install mariadb-backup)")
}

// backupBinlogInfo reads the binlog position and GTID position a
// prepared backup recorded ("file<TAB>position<TAB>gtids").
func backupBinlogInfo(dir string) (file string, pos uint64, gtids string, err error) {
	var data []byte
	for _, name := range []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"} {
		if data, err = os.ReadFile(filepath.Join(dir, name)); err == nil {
			break
		}
	}
	if err != nil {
		return "", 0, "", fmt.Errorf("hot backup: no binlog position recorded: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return "", 0, "", fmt.Errorf("hot backup: binlog position %q", data)
	}
	if pos, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", 0, "", fmt.Errorf("hot backup: binlog position %q: %w", data, err)
	}
	if len(f) > 2 {
		gtids = f[2]
	}
	return f[0], pos, gtids, nil
}

// lastLines returns the last n lines of a command's output.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// binlogPosAt returns the GTID position (gtid_binlog_pos) of the binlogs
// files at file:pos: the last GTID each domain logged before it, read by
// mariadb-binlog from the first file (a soak source's binlogs start with
// the server).
func binlogPosAt(ctx context.Context, files []string, file string, pos uint64) (string, error) {
	txns, err := binlogtext.ReadBinlogTexts(ctx, files, 4)
	if err != nil {
		return "", fmt.Errorf("hot backup: the binlog's GTID position at %s:%d: %w", file, pos, err)
	}
	last := map[uint64]string{}
	for _, t := range txns {
		if t.GTID == "" || !binlogtext.PosBefore(t.File, t.Start, file, pos) {
			continue
		}
		d, _, _ := binlogtext.SplitGTID(t.GTID)
		last[d] = t.GTID
	}
	domains := slices.Sorted(maps.Keys(last))
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = last[d]
	}
	return strings.Join(out, ","), nil
}
