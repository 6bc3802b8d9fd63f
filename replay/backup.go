package replay

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/binlog-replay/binlog-replay/internal/startcheck"
	"github.com/binlog-replay/binlog-replay/txn"
)

// BackupStart is the binlog coordinate a base backup was taken at.
type BackupStart struct {
	Position txn.Position
	// GTIDs is the executed GTID set recorded with the backup, if any.
	GTIDs txn.GTIDSet
	// ServerIDs are, per MariaDB domain of GTIDs, the server id of its
	// GTID as recorded (GTIDSet keeps none).
	ServerIDs map[uint32]uint32
	// Source names the file it was read from.
	Source string
}

// StartFromBackup reads the binlog position a base backup recorded: in a
// directory, xtrabackup_binlog_info / mariadb_backup_binlog_info
// (mariabackup, xtrabackup: "FILE<TAB>POS[<TAB>GTIDS]") or mydumper's
// metadata file (old "SHOW MASTER STATUS:" style or the newer "[source]"
// / "[master]" INI style); or a dump file (see StartFromDump). It returns
// an error naming the files it looked for when none is found or
// parsable.
func StartFromBackup(dir string) (BackupStart, error) {
	if fi, err := os.Stat(dir); err == nil && fi.Mode().IsRegular() {
		return StartFromDump(dir)
	}
	if p, data, err := readFirst(dir, "mariadb_backup_binlog_info", "xtrabackup_binlog_info"); err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %w", err)
	} else if p != "" {
		return parseXtrabackupInfo(p, string(data))
	}
	p := filepath.Join(dir, "metadata")
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return BackupStart{}, fmt.Errorf("read backup position: %s has none of mariadb_backup_binlog_info, xtrabackup_binlog_info, metadata", dir)
	}
	if err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %w", err)
	}
	defer f.Close()
	return parseMydumperMetadata(p, f)
}

// HotBase is what the replay knows of a base copied while the source was
// written: when the copy ended, and whether it is a logical dump (see
// HotBaseError).
type HotBase = startcheck.HotBase

// ReadHotBase reads, from the base a --from-backup path names, when it
// ended: a mariabackup or xtrabackup directory's end_time (its
// xtrabackup_info or mariadb_backup_info), or a dump's "Dump completed on"
// line at its end (mariadb-dump and mysqldump write it unless
// --skip-dump-date or --skip-comments). Both are in the time zone of the
// host that made them and are read in this host's. A base without one
// (mydumper, a dump without the line) has no end: nothing is checked.
// Reading a compressed dump's end reads it whole.
func ReadHotBase(path string) (HotBase, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		end, err := dumpEnded(path)
		return HotBase{Ended: end, Dump: true}, err
	}
	end, err := backupEnded(path)
	return HotBase{Ended: end}, err
}

// reDumpCompleted matches the line a dump ends with.
var reDumpCompleted = regexp.MustCompile(`-- Dump completed on (\d{4}-\d\d-\d\d +\d?\d:\d\d:\d\d)`)

// dumpEnded reads the "Dump completed on" line in the last KiB of the
// dump at path (zero when there is none).
func dumpEnded(path string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the dump's end: %w", err)
	}
	defer f.Close()
	var tail []byte
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("read the dump's end: %s: %w", path, err)
		}
		defer gz.Close()
		ring := make([]byte, 0, 2<<10)
		buf := make([]byte, 64<<10)
		for {
			n, err := gz.Read(buf)
			ring = append(ring, buf[:n]...)
			if len(ring) > 1<<10 {
				ring = append(ring[:0], ring[len(ring)-1<<10:]...)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return time.Time{}, fmt.Errorf("read the dump's end: %s: %w", path, err)
			}
		}
		tail = ring
	} else {
		fi, err := f.Stat()
		if err != nil {
			return time.Time{}, fmt.Errorf("read the dump's end: %w", err)
		}
		off := max(fi.Size()-1<<10, 0)
		tail = make([]byte, fi.Size()-off)
		if _, err := f.ReadAt(tail, off); err != nil && err != io.EOF {
			return time.Time{}, fmt.Errorf("read the dump's end: %s: %w", path, err)
		}
	}
	m := reDumpCompleted.FindSubmatch(tail)
	if m == nil {
		return time.Time{}, nil
	}
	end, err := time.ParseInLocation(time.DateTime, strings.Join(strings.Fields(string(m[1])), " "), time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse the dump's end in %s: %w", path, err)
	}
	return end, nil
}

// backupEnded reads the end_time of a mariabackup or xtrabackup
// backup's info file in dir (zero when there is none, or it has none).
func backupEnded(dir string) (time.Time, error) {
	p, data, err := readFirst(dir, "mariadb_backup_info", "xtrabackup_info")
	if err != nil {
		return time.Time{}, fmt.Errorf("read the backup's end time: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "end_time" {
			continue
		}
		end, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(val), time.Local)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse %s: end_time: %w", p, err)
		}
		return end, nil
	}
	return time.Time{}, nil
}

// readFirst reads the first of the files names in dir that exists,
// returning its path and contents; "" and nil when none does.
func readFirst(dir string, names ...string) (string, []byte, error) {
	for _, name := range names {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return p, data, err
	}
	return "", nil, nil
}

func parseXtrabackupInfo(path, data string) (BackupStart, error) {
	fields := strings.Split(strings.TrimSpace(data), "\t")
	if len(fields) < 2 {
		return BackupStart{}, fmt.Errorf("parse %s: want FILE<TAB>POSITION[<TAB>GTIDS], got %q", path, strings.TrimSpace(data))
	}
	pos, err := strconv.ParseUint(strings.TrimSpace(fields[1]), 10, 64)
	if err != nil {
		return BackupStart{}, fmt.Errorf("parse %s: position: %w", path, err)
	}
	bs := BackupStart{Position: txn.Position{File: strings.TrimSpace(fields[0]), Offset: pos}, Source: path}
	if err := checkBinlogName(bs.Position.File); err != nil {
		return BackupStart{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(fields) > 2 {
		if bs.GTIDs, bs.ServerIDs, err = parseBackupGTIDs(strings.TrimSpace(strings.Join(fields[2:], ","))); err != nil {
			return BackupStart{}, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	return bs, nil
}

// parseMydumperMetadata reads the first source position of a mydumper
// metadata file, in either of its formats.
func parseMydumperMetadata(path string, f *os.File) (BackupStart, error) {
	bs := BackupStart{Source: path}
	var (
		section string
		gtids   string
		havePos bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") || strings.HasSuffix(line, ":") && !strings.Contains(line, " ") || strings.HasPrefix(line, "SHOW ") {
			if havePos {
				break // only the first (source) section
			}
			section = line
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			key, val, ok = strings.Cut(line, ":")
		}
		if !ok || section == "" {
			continue
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.Trim(strings.TrimSpace(val), `"`)
		switch key {
		case "log", "file":
			bs.Position.File = val
		case "pos", "position":
			p, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return BackupStart{}, fmt.Errorf("parse %s: position %q: %w", path, val, err)
			}
			bs.Position.Offset, havePos = p, true
		case "gtid", "executed_gtid_set":
			gtids = val
		}
	}
	if err := sc.Err(); err != nil {
		return BackupStart{}, fmt.Errorf("read %s: %w", path, err)
	}
	if bs.Position.File == "" || !havePos {
		return BackupStart{}, fmt.Errorf("parse %s: no binlog file and position found", path)
	}
	if err := checkBinlogName(bs.Position.File); err != nil {
		return BackupStart{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if gtids != "" {
		var err error
		if bs.GTIDs, bs.ServerIDs, err = parseBackupGTIDs(gtids); err != nil {
			return BackupStart{}, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	return bs, nil
}

// checkBinlogName refuses a binlog file name a server could not have
// written: empty, or holding a control character (a stray carriage return
// from a file edited on Windows, a tab from a mangled line) or a path
// separator. Starting from such a name would fail later with a far less
// clear message, or match no file at all.
func checkBinlogName(name string) error {
	if name == "" {
		return errors.New("empty binlog file name")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return fmt.Errorf("binlog file name %q holds %q, which no server writes in one", name, r)
		}
	}
	return nil
}

// dumpHead bounds how much of a dump StartFromDump reads: the position
// comes before any data.
const dumpHead = 1 << 20

// reDumpPosition finds the position mysqldump or mariadb-dump writes with
// --master-data/--source-data (commented or not; MySQL 8's CHANGE
// REPLICATION SOURCE TO ... SOURCE_LOG_FILE too).
var reDumpPosition = regexp.MustCompile(`(?i)CHANGE\s+(?:MASTER|REPLICATION\s+SOURCE)\s+TO\s+(?:MASTER|SOURCE)_LOG_FILE\s*=\s*'([^']+)'\s*,\s*(?:MASTER|SOURCE)_LOG_POS\s*=\s*(\d+)`)

// StartFromDump reads the binlog position a logical dump recorded at its
// top: mysqldump or mariadb-dump with --master-data (--source-data), plain
// or gzip-compressed (.gz). Only the first MiB is read: a MariaDB dump
// writes its GTID position (--gtid) at its end, so none is returned.
func StartFromDump(path string) (BackupStart, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return BackupStart{}, fmt.Errorf("read backup position: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	head, err := io.ReadAll(io.LimitReader(r, dumpHead))
	if err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %s: %w", path, err)
	}
	m := reDumpPosition.FindSubmatch(head)
	if m == nil {
		return BackupStart{}, fmt.Errorf("read backup position: %s: no CHANGE MASTER TO MASTER_LOG_FILE=..., MASTER_LOG_POS=... "+
			"in its first MiB (a dump made without --master-data or --source-data records none)", path)
	}
	pos, err := strconv.ParseUint(string(m[2]), 10, 64)
	if err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %s: position: %w", path, err)
	}
	bs := BackupStart{Position: txn.Position{File: string(m[1]), Offset: pos}, Source: path}
	if err := checkBinlogName(bs.Position.File); err != nil {
		return BackupStart{}, fmt.Errorf("read backup position: %s: %w", path, err)
	}
	return bs, nil
}

// parseBackupGTIDs parses a backup's GTID position, and the server id of
// each of its MariaDB GTIDs (d-s-n) by domain.
func parseBackupGTIDs(s string) (txn.GTIDSet, map[uint32]uint32, error) {
	set, err := txn.ParseGTIDSet(s)
	if err != nil || set.IsEmpty() {
		return set, nil, err
	}
	servers := map[uint32]uint32{}
	for _, part := range strings.Split(s, ",") {
		if g, err := txn.ParseGTID(strings.TrimSpace(part)); err == nil && g.Flavor == txn.FlavorMariaDB {
			servers[g.Domain] = g.Server
		}
	}
	return set, servers, nil
}
