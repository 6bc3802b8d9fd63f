package soak

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
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
// they start, takes the base into src.Base with mariabackup while they
// write, prepared (sandbox.Server.HotBackup; FeatHotBackup); once they
// are done it reads the binlog position the backup recorded as the
// start.
func (src *Source) runSessionsWithBackup(ctx context.Context, srv *sandbox.Server, sessions [][]seedgen.Script, delay time.Duration) error {
	if _, err := sandbox.BackupTool(); err != nil {
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
	backupErr := srv.HotBackup(ctx, src.Base)
	if !ended {
		sessionsErr = <-done
	}
	if err := errors.Join(sessionsErr, backupErr); err != nil {
		return err
	}
	var err error
	src.StartFile, src.StartPos, src.StartGTID, err = backupBinlogInfo(src.Base)
	return err
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

// backupEnded reads when the prepared hot backup in dir ended (end_time
// of its xtrabackup_info, written in the backup's time zone), read in
// loc, as the replay reads it in its own.
func backupEnded(dir string, loc *time.Location) (time.Time, error) {
	data, err := os.ReadFile(filepath.Join(dir, "xtrabackup_info"))
	if err != nil {
		return time.Time{}, fmt.Errorf("hot backup: its end: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "end_time = "); ok {
			return time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(v), loc)
		}
	}
	return time.Time{}, fmt.Errorf("hot backup: no end_time in %s", filepath.Join(dir, "xtrabackup_info"))
}

// heldAfter returns what the replay says when the last transaction
// before src's start in its file (which the base holds) committed more
// than a minute after ended, the base's end as the replay reads it (its
// time zone another than the backup's): "" otherwise.
func heldAfter(ctx context.Context, src *Source, ended time.Time) (string, error) {
	i := slices.IndexFunc(src.Files, func(f string) bool { return filepath.Base(f) == src.StartFile })
	if i < 0 {
		return "", nil
	}
	txns, _, err := binlogtext.ReadBinlogTexts(ctx, src.Files[i:i+1], 4)
	if err != nil {
		return "", fmt.Errorf("hot backup: the transactions before its position: %w", err)
	}
	var last *binlogtext.BinTxn
	for k := range txns {
		if txns[k].Start < src.StartPos {
			last = &txns[k]
		}
	}
	if last == nil || last.Time.Unix() <= ended.Unix()+60 {
		return "", nil
	}
	return fmt.Sprintf("the base's end %s, read in the replay's time zone, is before the transaction at %s:%d (%s) it holds committed (%s)",
		ended, last.File, last.Start, last.GTID, last.Time), nil
}

// binlogPosAt returns the GTID position (gtid_binlog_pos) of the binlogs
// files at file:pos: the last GTID each domain logged before it, read by
// mariadb-binlog from the first file (a soak source's binlogs start with
// the server).
func binlogPosAt(ctx context.Context, files []string, file string, pos uint64) (string, error) {
	txns, _, err := binlogtext.ReadBinlogTexts(ctx, files, 4)
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
