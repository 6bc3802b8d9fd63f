package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

// Status is a check's outcome.
type Status string

// Check outcomes: Fail is a setting or missing privilege the replay would
// fail on (the command exits 1); Warn slows or endangers the recovery;
// Unknown could not be checked.
const (
	OK      Status = "ok"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Check is one setting, privilege or measurement, what it means for this
// recovery, and what to do about it. The command never changes a setting
// itself: During and After say what the operator may set.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Value is what the target has; Finding what it means here.
	Value   string `json:"value"`
	Finding string `json:"finding"`
	// What the setting is, Cost what it costs the replay, During what to
	// set for the recovery and After what to set back once it is done;
	// Fix, for a privilege, the statement to run.
	What   string `json:"what"`
	Cost   string `json:"cost,omitempty"`
	During string `json:"during,omitempty"`
	After  string `json:"after,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// settingsInput is what the settings checks weigh.
type settingsInput struct {
	t *Target
	b *Binlogs
	// commitMs is the measured median commit (0: not measured); groups the
	// target transactions the replay will commit, about.
	commitMs float64
	groups   float64
	// logged is set when the replay will write the target's binlog (it is
	// on, and --no-log-bin is not given).
	logged bool
}

// settingChecks returns the checks of the settings that decide the
// recovery's speed and safety.
func settingChecks(in settingsInput) []Check {
	t, b := in.t, in.b
	var out []Check
	commitCost := func(what string) string {
		if in.commitMs <= 0 {
			return fmt.Sprintf("one %s per target commit: about %.0f commits (groups of up to 64 transactions)", what, in.groups)
		}
		return fmt.Sprintf("one %s per target commit: about %.0f commits (groups of up to 64 transactions) at about %.2f ms each, %.1f s of the estimate",
			what, in.groups, in.commitMs, in.groups*in.commitMs/1000)
	}

	logBin, _ := t.boolVar("log_bin")
	syncBinlog, hasSync := t.intVar("sync_binlog")
	c := Check{Name: "binlog (log_bin, sync_binlog)", Value: fmt.Sprintf("log_bin=%s sync_binlog=%s", onOff(logBin), t.Vars["sync_binlog"]),
		What: "the target's own binary log. On, the replay writes every transaction it applies to it again (with the source's GTIDs where it can), " +
			"so that the restored server can be a primary for replicas; sync_binlog=1 syncs it to disk at each commit.",
		After: "log_bin as the server's role needs (a primary: on); sync_binlog=1 for a primary, so that its binlog survives a crash with its data."}
	switch {
	case !logBin:
		c.Status, c.Finding = OK, "off: the replay writes no binlog on the target (the restored server cannot serve replicas from the replayed history)"
		c.During = "nothing (log_bin needs a restart to change)"
	case !in.logged:
		c.Status, c.Finding = OK, "on, and --no-log-bin keeps the replay out of it"
		c.During = "nothing"
	default:
		c.Status = OK
		c.Finding = fmt.Sprintf("on: the replay writes about %s more to the target's binlog directory", bytesize.Human(b.Bytes))
		c.Cost = "disk: the binlog bytes again"
		if hasSync && syncBinlog == 1 {
			c.Cost += "; time: " + commitCost("binlog sync")
		}
		c.During = "sync_binlog=1 if replicas will follow this server's binlog (a crash must not lose what its data holds); " +
			"else sync_binlog=0 during the replay (SET GLOBAL sync_binlog=0), or replay with --no-log-bin when no replica needs the history"
	}
	out = append(out, c)

	flush, ok := t.intVar("innodb_flush_log_at_trx_commit")
	c = Check{Name: "innodb_flush_log_at_trx_commit", Value: t.Vars["innodb_flush_log_at_trx_commit"],
		What: "when InnoDB syncs its redo log: 1 at each commit (durable), 2 at each commit to the OS and to disk once a second, 0 once a second.",
		Cost: commitCost("redo log sync"),
		During: "1 is safe and costs little: the replay commits once per group, not per transaction. 2 saves the syncs on a slow disk; " +
			"a crash of the machine then loses the last second of commits together with their checkpoint, which --resume applies again " +
			"(the checkpoint is in the same transaction as the data), so exactly-once still holds; with the target's binlog on, keep 1.",
		After: "1 (SET GLOBAL innodb_flush_log_at_trx_commit=1) before the server takes writes as a primary."}
	switch {
	case !ok:
		c.Status, c.Finding = Unknown, "not reported"
	case flush == 1:
		c.Status, c.Finding = OK, "1: every commit is durable"
	default:
		c.Status, c.Finding = Warn, fmt.Sprintf("%d: commits are not synced to disk at commit; set 1 afterwards", flush)
		c.Cost = "none now (no sync at commit); the last second of commits is lost on a crash of the machine"
	}
	out = append(out, c)

	dw, ok := t.Vars["innodb_doublewrite"]
	c = Check{Name: "innodb_doublewrite", Value: dw,
		What:   "InnoDB writes each page twice (to the doublewrite buffer first), so that a page torn by a crash can be repaired.",
		Cost:   "about twice the page writes while dirty pages are flushed: matters when the replay writes more than the buffer pool holds",
		During: "leave it: it can change only with a restart (MariaDB 10.11), and without it a crash can leave torn pages that nothing repairs",
		After:  "ON (unless the filesystem makes page writes atomic)"}
	switch {
	case !ok:
		c.Status, c.Finding = Unknown, "not reported"
	case strings.EqualFold(dw, "OFF") || dw == "0":
		c.Status, c.Finding = Warn, "off: a crash during the replay can tear pages; the replay's checkpoint cannot repair that"
	default:
		c.Status, c.Finding = OK, "on"
	}
	out = append(out, c)

	bp, _ := t.intVar("innodb_buffer_pool_size")
	c = Check{Name: "innodb_buffer_pool_size", Value: bytesize.Human(bp),
		What: "InnoDB's page cache. When the tables the binlogs write do not fit, the replay reads pages from disk for its updates and deletes, " +
			"and flushes more: it slows down, the more the disk is slow.",
		During: "as large as the machine allows, at least the written tables' size (SET GLOBAL innodb_buffer_pool_size=...; it is resized online)",
		After:  "what the server's production load needs"}
	switch {
	case bp == 0:
		c.Status, c.Finding = Unknown, "not reported"
	case t.DataBytes > bp:
		c.Status = Warn
		c.Finding = fmt.Sprintf("smaller than the %s of data and indexes of the %d tables the binlogs write (all tables: %s): "+
			"the replay will read from disk; the estimate assumes they fit and may be short", bytesize.Human(t.DataBytes), len(b.Tables), bytesize.Human(t.AllDataBytes))
	default:
		c.Status = OK
		c.Finding = fmt.Sprintf("holds the %s of the %d tables the binlogs write (all tables: %s)", bytesize.Human(t.DataBytes), len(b.Tables), bytesize.Human(t.AllDataBytes))
	}
	out = append(out, c)

	mp, ok := t.intVar("max_allowed_packet")
	need := b.LargestPacket.Bytes
	c = Check{Name: "max_allowed_packet", Value: bytesize.Human(mp),
		What: "the largest statement the server accepts. The replay sends each row event (with its table maps) base64-encoded in a BINLOG " +
			"statement, about 4/3 of its size, splitting a statement's row events between events but never inside one.",
		After: "what the applications need (it may stay larger)"}
	switch {
	case !ok:
		c.Status, c.Finding = Unknown, "not reported"
	case need == 0:
		c.Status, c.Finding = OK, "the binlogs hold no statement to send"
	case need > mp:
		c.Status = Fail
		c.Finding = fmt.Sprintf("too small: the largest statement the replay must send whole is %s (%s at %s); the target would refuse it",
			bytesize.Human(need), b.LargestPacket.What, b.LargestPacket.At)
		c.During = fmt.Sprintf("SET GLOBAL max_allowed_packet=%d (new sessions take it; at most 1G)", roundUpMiB(need))
	default:
		c.Status = OK
		c.Finding = fmt.Sprintf("enough: the largest statement the replay must send whole is %s (%s at %s)", bytesize.Human(need), b.LargestPacket.What, b.LargestPacket.At)
		c.During = "nothing"
	}
	out = append(out, c)

	lw, _ := t.intVar("lock_wait_timeout")
	ilw, _ := t.intVar("innodb_lock_wait_timeout")
	c = Check{Name: "lock_wait_timeout, innodb_lock_wait_timeout", Value: fmt.Sprintf("lock_wait_timeout=%s innodb_lock_wait_timeout=%s",
		t.Vars["lock_wait_timeout"], t.Vars["innodb_lock_wait_timeout"]),
		What: "how long a statement waits for a metadata lock (DDL, LOCK TABLES) and for a row lock. The replay sets its own sessions' " +
			"innodb_lock_wait_timeout (2 s); DDL in the binlogs waits lock_wait_timeout for any other session holding the table.",
		During: "nothing else should use the target during the replay; a DDL blocked by a forgotten session is reported by the replay's stall report",
		After:  "unchanged"}
	switch {
	case lw > 0 && lw < 60 && b.DDLTxns > 0:
		c.Status, c.Finding = Warn, fmt.Sprintf("lock_wait_timeout is %d s: a DDL in the binlogs that waits longer for another session fails and stops the replay", lw)
	default:
		c.Status, c.Finding = OK, fmt.Sprintf("the global innodb_lock_wait_timeout (%d s) is not the replay's: it sets 2 s on its sessions", ilw)
	}
	out = append(out, c)
	return out
}

// diskCheck compares the space free where the target writes with the
// growth the binlogs imply: the rows inserted (less those deleted), twice
// their binlog size for InnoDB's page fill, row headers and indexes, and
// the binlog bytes again when the replay writes the target's binlog.
func diskCheck(t *Target, b *Binlogs, logged bool) Check {
	rows := max(0, b.InsertBytes-b.DeleteBytes) * 2
	var logBytes int64
	if logged {
		logBytes = b.Bytes
	}
	c := Check{Name: "free disk space",
		What: "the space the replay fills: the rows it inserts (estimated as twice their binlog size, less the rows it deletes), " +
			"and the binlog bytes again in the target's own binlog when the replay writes it.",
		During: "free space, or move the target's binlog elsewhere; --no-log-bin when no replica needs the replayed history",
		After:  "purge what the target's binlog no longer needs (PURGE BINARY LOGS) once its replicas have it"}
	if t.Disk == nil {
		c.Status, c.Value = Unknown, "not checked"
		c.Finding = fmt.Sprintf("the target is not on this machine (or its datadir could not be looked at): could not check; "+
			"it needs about %s free for data and %s for its binlog", bytesize.Human(rows), bytesize.Human(logBytes))
		return c
	}
	need := rows
	disks := []string{fmt.Sprintf("%s free of %s at %s", bytesize.Human(int64(t.Disk.Free)), bytesize.Human(int64(t.Disk.Total)), t.Disk.Path)}
	var short []string
	if t.BinlogDisk != nil && t.BinlogDisk.Device != t.Disk.Device {
		disks = append(disks, fmt.Sprintf("%s free of %s at %s", bytesize.Human(int64(t.BinlogDisk.Free)), bytesize.Human(int64(t.BinlogDisk.Total)), t.BinlogDisk.Path))
		if uint64(logBytes) > t.BinlogDisk.Free {
			short = append(short, fmt.Sprintf("the binlog directory needs about %s", bytesize.Human(logBytes)))
		}
	} else {
		need += logBytes
	}
	c.Value = strings.Join(disks, "; ")
	if uint64(need) > t.Disk.Free {
		short = append(short, fmt.Sprintf("the datadir needs about %s", bytesize.Human(need)))
	}
	switch {
	case len(short) > 0:
		c.Status, c.Finding = Fail, "too little: "+strings.Join(short, ", ")+"; the replay would stall, or the server abort, for want of space"
	case uint64(2*need) > t.Disk.Free:
		c.Status, c.Finding = Warn, fmt.Sprintf("tight: the replay needs about %s (data %s, binlog %s), more than half the space free", bytesize.Human(need), bytesize.Human(rows), bytesize.Human(logBytes))
	default:
		c.Status, c.Finding = OK, fmt.Sprintf("enough: the replay needs about %s (data %s, binlog %s)", bytesize.Human(rows+logBytes), bytesize.Human(rows), bytesize.Human(logBytes))
	}
	return c
}

// roundUpMiB rounds n up to a whole MiB, at least one MiB more than n.
func roundUpMiB(n int64) int64 {
	return (n/(1<<20) + 2) << 20
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// eventsCheck reports the target's event scheduler: on while events are
// enabled in the databases the replay writes, the replay refuses to start
// (target.CheckEvents), as those events would write again what the
// binlogs hold.
func eventsCheck(ctx context.Context, db *sql.DB, sel Selection) Check {
	c := Check{Name: "event_scheduler", What: "the target's event scheduler runs its enabled events. The source logged what its " +
		"own events wrote, which the replay applies: the target's twins of those events, run during the replay, would write it again.",
		After: "ON again once the recovery is done, if the server ran it"}
	var scheduler string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.event_scheduler").Scan(&scheduler); err != nil {
		c.Status, c.Finding = Unknown, err.Error()
		return c
	}
	c.Value = scheduler
	note, err := target.CheckEvents(ctx, db, sel.RewriteDB.WrittenDatabases(sel.Filter.Databases, sel.Filter.Tables))
	switch {
	case err != nil:
		c.Status, c.Finding, c.During = Fail, err.Error(), "SET GLOBAL event_scheduler = OFF"
	case note != "":
		c.Status, c.Finding, c.During = Warn, note, "SET GLOBAL event_scheduler = OFF"
	default:
		c.Status, c.Finding, c.During = OK, "the scheduler is off: no event runs during the replay", "nothing"
	}
	return c
}
