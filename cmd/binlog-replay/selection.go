package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// SelectionFlags are the start, stop and include flags that replay and
// plan share, so that plan predicts exactly what replay would do.
type SelectionFlags struct {
	StartPosition  string
	StartGTID      string
	FromBackup     string
	StopPosition   string
	StopDatetime   string
	StopBeforeGTID string
	ExcludeGTIDs   string
	Databases      string
	Tables         string
	// RewriteDB are the --rewrite-db rules, one per flag.
	RewriteDB   rewriteFlag
	SkipUnknown bool
	// NoContinuityCheck reads on where a file does not carry on from the
	// one before it (GTID history, ROTATE).
	NoContinuityCheck bool
}

// AddFlags registers the flags on fs.
func (o *SelectionFlags) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.StartPosition, "start-position", "", "start at `FILE:POS` (a transaction boundary)")
	fs.StringVar(&o.StartGTID, "start-gtid", "", "skip the transactions in this GTID `SET` (MySQL uuid:1-5 or MariaDB d-s-n syntax), "+
		"or, for replay, 'target': the GTIDs the target holds (MariaDB gtid_current_pos, MySQL gtid_executed)")
	fs.StringVar(&o.FromBackup, "from-backup", "", "start at the binlog position recorded by the base backup in `DIR` (xtrabackup/mariabackup/mydumper), or at the top of a dump file (mysqldump/mariadb-dump --master-data, .sql or .sql.gz)")
	fs.StringVar(&o.StopPosition, "stop-position", "", "stop before the first transaction not ending at or before `FILE:POS`")
	fs.StringVar(&o.StopDatetime, "stop-datetime", "", "stop before the first transaction committed at or after `TIME` ('2006-01-02 15:04:05' in local time, or RFC 3339)")
	fs.StringVar(&o.StopBeforeGTID, "stop-before-gtid", "", "stop before the transaction with this `GTID`, or before the first of its "+
		"MariaDB domain (MySQL source UUID) at or beyond its sequence number when it does not occur as such")
	fs.StringVar(&o.ExcludeGTIDs, "exclude-gtids", "", "skip the transactions in this GTID `SET` (as --start-gtid: MariaDB d-s-n is "+
		"every transaction of domain d up to n, refused where that skips one the replay would apply beside d-s-n itself), "+
		"or exactly those of MariaDB ranges d-s-first..last (0-1-5001..5003; "+
		"0-1-5003..5003 is that one transaction); comma-separated, both may be mixed")
	fs.StringVar(&o.Databases, "databases", "", "apply only these comma-separated databases")
	fs.StringVar(&o.Tables, "tables", "", "apply only these comma-separated db.table tables")
	fs.Var(&o.RewriteDB, "rewrite-db", "rename a database: `OLD=NEW` applies what --databases or --tables keep of OLD to NEW "+
		"(repeatable; the filters name the binlogs' databases; a statement that cannot be renamed with certainty is refused)")
	fs.BoolVar(&o.SkipUnknown, "skip-unknown", false, "skip events that are not understood (counted) instead of stopping")
	fs.BoolVar(&o.NoContinuityCheck, "no-continuity-check", false,
		"read on where a binlog file does not carry on from the one before it (after RESET MASTER TO, DELETE_DOMAIN_ID, a changed gtid_binlog_state or gtid_purged)")
}

// rewriteFlag collects the --rewrite-db rules.
type rewriteFlag rewrite.Rules

// String lists the rules.
func (r *rewriteFlag) String() string { return rewrite.Rules(*r).String() }

// Set adds a rule.
func (r *rewriteFlag) Set(s string) error {
	rule, err := rewrite.ParseRule(s)
	if err != nil {
		return err
	}
	*r = append(*r, rule)
	return nil
}

// parse returns the start position and the filter the flags describe, for
// the given binlog files.
func (o *SelectionFlags) parse(files []string) (txn.Position, filter.Options, error) {
	f := filter.Options{Files: files}
	if o.StartPosition != "" && o.FromBackup != "" {
		return txn.Position{}, f, errors.New("give either --start-position or --from-backup, not both")
	}
	start, err := parsePosition("start-position", o.StartPosition)
	if err != nil {
		return start, f, err
	}
	if o.FromBackup != "" {
		if err := checkFromBackupDir(o.FromBackup); err != nil {
			return start, f, err
		}
		bs, err := replay.StartFromBackup(o.FromBackup)
		if err != nil {
			return start, f, err
		}
		start = bs.Position
	}
	if strings.EqualFold(strings.TrimSpace(o.StartGTID), "target") {
		return start, f, errors.New("--start-gtid target takes the set from a target server: give it to replay, or give the set here")
	}
	if f.StartGTIDs, err = txn.ParseGTIDSet(o.StartGTID); err != nil {
		return start, f, fmt.Errorf("--start-gtid: %w", err)
	}
	if f.StopPosition, err = parsePosition("stop-position", o.StopPosition); err != nil {
		return start, f, err
	}
	if f.StopDatetime, err = parseDatetime(o.StopDatetime); err != nil {
		return start, f, err
	}
	if o.StopBeforeGTID != "" {
		if f.StopBeforeGTID, err = txn.ParseGTID(o.StopBeforeGTID); err != nil {
			return start, f, fmt.Errorf("--stop-before-gtid: %w", err)
		}
	}
	if f.ExcludeGTIDs, err = filter.ParseGTIDs(o.ExcludeGTIDs); err != nil {
		return start, f, fmt.Errorf("--exclude-gtids: %w", err)
	}
	f.Databases, f.Tables = splitList(o.Databases), splitList(o.Tables)
	return start, f, nil
}
