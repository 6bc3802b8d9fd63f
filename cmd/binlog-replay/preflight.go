package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// connectTimeout bounds the first connection to each server, so that an
// address where nothing answers is an error within seconds.
const connectTimeout = 10 * time.Second

// preflight checks, before the replay touches the target, what an operator
// gets wrong in the first minute, and returns an error saying what to fix:
// binlog files that do not hold the start position (a typo, another
// directory), a start that is not a transaction boundary, binlogs that do
// not follow the base backup (another server's), and a target or source
// that cannot be reached or logged in to. Without it the replay would
// record a checkpoint at a start it cannot read, which a corrected command
// would then have to be told to ignore. fromBackup is the --from-backup
// directory ("" when not given).
func preflight(ctx context.Context, ro *replay.Options, fromBackup string) error {
	if len(ro.Files) > 0 && !ro.Recovery.Resume {
		if err := checkStart(ctx, ro, fromBackup); err != nil {
			return err
		}
	}
	if err := checkServer(ctx, "target", ro.TargetDSN, ro.TargetTLS, connectTimeout); err != nil {
		return fmt.Errorf("%w. Nothing was applied", err)
	}
	if ro.Source.DSN != "" {
		if err := checkServer(ctx, "source", ro.Source.DSN, nil, connectTimeout); err != nil {
			return fmt.Errorf("%w. Nothing was applied", err)
		}
	}
	return nil
}

// checkStart reads the first transaction at the start position: its file
// must be among the files, the position a transaction boundary, and, when
// the start comes from a backup that recorded its GTID position, the
// transaction the one that follows that position.
func checkStart(ctx context.Context, ro *replay.Options, fromBackup string) error {
	start := ro.Select.StartPosition
	from := "--start-position"
	var backup replay.BackupStart
	if fromBackup != "" {
		var err error
		if backup, err = replay.StartFromBackup(fromBackup); err != nil {
			return err
		}
		from = "the backup's " + backup.Source
	}
	if start.IsZero() {
		return nil // the first file's beginning
	}
	names := make([]string, len(ro.Files))
	found := false
	for i, f := range ro.Files {
		names[i] = logfile.Name(f)
		found = found || names[i] == start.File
	}
	if !found {
		return fmt.Errorf("the start position %s (from %s) is in %s, which is not among the binlog files given (%s): "+
			"give the directory or files that hold it, or check the position. Nothing was applied",
			start, from, start.File, fileRange(names))
	}
	// The first transaction's start is what is needed: a huge one is read
	// in pieces, the first only.
	rd, err := binlog.NewReader(ro.Files, binlog.Options{Start: start, ReadAheadBytes: 1 << 20, StreamAbove: 1 << 20})
	if err != nil {
		return fmt.Errorf("read the binlogs at the start position %s (from %s): %w. Nothing was applied", start, from, err)
	}
	defer rd.Close()
	first, err := rd.Next(ctx)
	partial := binlog.PartialTxn(err)
	switch {
	case errors.Is(err, io.EOF):
		return nil // nothing after the start: the replay says so
	case partial != nil:
		// A crash cut the first transaction and it cannot be left out,
		// or the last file ends inside it: its start is a boundary and
		// its GTID known; the replay stops before it, or refuses it or
		// (--strict aside) reports the truncation.
		first = partial
	case err != nil:
		return fmt.Errorf("read the binlogs at the start position %s (from %s): %w. Nothing was applied", start, from, err)
	}
	if ro.Recovery.NoContinuityCheck || backup.GTIDs.IsEmpty() || first.GTID.IsZero() {
		return nil
	}
	return followsBackup(first, backup)
}

// followsBackup returns an error when first, the transaction at the
// backup's position, is not the one that comes after the backup's GTID
// position: it is already in the backup, or transactions are missing
// between them, as when the binlogs are another server's.
func followsBackup(first *txn.Txn, backup replay.BackupStart) error {
	g := first.GTID
	mismatch := func(why string) error {
		return fmt.Errorf("the binlogs do not follow the base backup: the backup (%s) was taken at %s, after %s, "+
			"but the transaction at that position in the binlogs is %s: %s. These are probably the binlogs of another server, "+
			"or of another history of it (RESET MASTER): check the binlog directory and --from-backup (binlog-replay plan DIR "+
			"shows the binlogs' server and GTIDs); --no-continuity-check applies them anyway. Nothing was applied",
			backup.Source, backup.Position, describeGTIDs(backup.GTIDs), g, why)
	}
	if backup.GTIDs.Contains(g) {
		// A lower sequence number under another server id than the
		// backup recorded for the domain is a GTID logged out of order
		// (gtid_strict_mode off: SET gtid_seq_no, a stream replicated in;
		// soak seeds 110042, 110050), not one the backup holds.
		if srv, known := backup.ServerIDs[g.Domain]; known && srv != g.Server {
			return nil
		}
		return mismatch("the backup already holds it")
	}
	if g.Flavor != txn.FlavorMariaDB {
		return nil // MySQL: a GTID of another server UUID may follow legitimately
	}
	// A domain the backup's position leaves out says nothing: mariabackup
	// records the server's gtid_current_pos, which leaves out a domain
	// whose last transaction was logged under another server id (a
	// session's SET server_id, a stream replicated in without
	// gtid_slave_pos), while its binlog and data hold them (seen on
	// MariaDB 10.11; soak seed 109314).
	if seq, ok := backup.GTIDs.DomainSeq(g.Domain); ok && g.Seq != seq+1 {
		return mismatch(fmt.Sprintf("the next of domain %d would be sequence number %d, so %d transactions would be in neither",
			g.Domain, seq+1, g.Seq-seq-1))
	}
	return nil
}

// describeGTIDs names a backup's GTID position: per MariaDB domain, the
// last sequence number (the set keeps no server ids), else the MySQL set.
func describeGTIDs(s txn.GTIDSet) string {
	var parts []string
	for _, d := range s.Domains() {
		seq, _ := s.DomainSeq(d)
		parts = append(parts, fmt.Sprintf("sequence number %d of domain %d", seq, d))
	}
	if len(parts) == 0 {
		return "GTIDs " + s.String()
	}
	return strings.Join(parts, ", ")
}

// fileRange names the first and last of names.
func fileRange(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return fmt.Sprintf("%d files, %s to %s", len(names), names[0], names[len(names)-1])
}

// checkServer connects to the server role names ("target", "source") at
// dsn and logs in, within timeout, and returns what went wrong with what
// to check. The source's DSN database is not used (the replication
// protocol has none), so it is not checked.
func checkServer(ctx context.Context, role, dsn string, tlsConfig *tls.Config, timeout time.Duration) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("parse the %s DSN: %s", role, parseErrorText(dsn, err))
	}
	if tlsConfig != nil {
		cfg.TLS, cfg.AllowFallbackToPlaintext = tlsConfig.Clone(), false
	}
	if role == "source" {
		cfg.DBName = ""
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = timeout
	}
	cfg.Logger = &mysql.NopLogger{} // the error returned says it all
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("open the %s: %w", role, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = db.PingContext(pctx)
	if err == nil || ctx.Err() != nil {
		return err
	}
	return explainConnectError(role, "--"+role, cfg, err, timeout)
}

// explainConnectError turns err, a failure to connect to or log in to the
// server role names ("target"), given by the DSN flag (such as "--target")
// and configured by cfg, into an error that names the address, the cause
// and what to check; timeout is how long the connection was given.
func explainConnectError(role, flag string, cfg *mysql.Config, err error, timeout time.Duration) error {
	addr := fmt.Sprintf("%s(%s)", cfg.Net, cfg.Addr)
	fail := func(what, check string) error {
		return fmt.Errorf("cannot connect to the %s at %s: %s (%w). %s", role, addr, what, err, check)
	}
	var me *mysql.MySQLError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return fail("the host name is unknown", "Check the host in "+flag)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail("nothing listens there", "Check that the server is running and the host and port in "+flag+
			" (SHOW VARIABLES LIKE 'port' on the server; the default is 3306)")
	case errors.Is(err, os.ErrNotExist) && cfg.Net == "unix":
		return fail("there is no socket at that path", "Check that the server is running and the socket path in "+flag+
			" (SELECT @@socket on the server; Debian's default is /run/mysqld/mysqld.sock)")
	case errors.Is(err, os.ErrPermission) && cfg.Net == "unix":
		return fail("this user may not open the socket", "Run as a user that may, or connect over TCP")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fail("no route to the host", "Check the host in "+flag+" and the network")
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fail(fmt.Sprintf("no MySQL or MariaDB server answered within %s", timeout),
			"Check the host and port in "+flag+" (is it the server's port?) and any firewall in between")
	case errors.As(err, &me) && me.Number == 1049:
		return fmt.Errorf("the %s DSN names the database %q, which the %s at %s does not have (%w): leave it out "+
			"(user@%s/)", flag, cfg.DBName, role, addr, err, addr)
	case errors.As(err, &me) && me.Number == 1045:
		env := "MYSQL_PWD"
		if role == "source" {
			env = sourcePwdEnv + " or MYSQL_PWD"
		}
		return fail("the server refused the user and password", "Check the user in "+flag+" and the password ("+env+
			"); an account that REQUIREs SSL also needs TLS (--tls-ca FILE, or tls=true in the DSN)")
	case errors.As(err, &me) && me.Number == 1044:
		return fail("the user may not use the DSN's database", "Leave the database out of "+flag+" or grant the user access to it")
	case errors.Is(err, mysql.ErrMalformPkt), errors.Is(err, mysql.ErrInvalidConn):
		return fail("what answered is not a MySQL or MariaDB server", "Check the port in "+flag)
	}
	return fail("the connection failed", "Check "+flag)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkFromBackupDir explains a --from-backup directory that does not
// exist or holds no position file; nil when it has one.
func checkFromBackupDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--from-backup %s: no such directory: give the directory of the restored base backup "+
			"(where mariabackup, xtrabackup or mydumper wrote its binlog position)", dir)
	case err != nil:
		return fmt.Errorf("--from-backup %s: %w", dir, err)
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return fmt.Errorf("--from-backup %s: neither a directory nor a file: give the directory of the base backup, "+
			"or the dump file", dir)
	case !fi.IsDir():
		if _, err := replay.StartFromDump(dir); err != nil {
			return fmt.Errorf("--from-backup %s: %s: give the dump made with --master-data (or --source-data), "+
				"or the position with --start-position FILE:POS", dir, strings.TrimPrefix(err.Error(), "read backup position: "))
		}
		return nil
	}
	if _, err := replay.StartFromBackup(dir); err != nil {
		return fmt.Errorf("--from-backup %s: %s. It is not a base backup directory that recorded its binlog position "+
			"(mariabackup/xtrabackup --backup write xtrabackup_binlog_info or mariadb_backup_binlog_info, mydumper metadata; "+
			"a copy of the datadir alone has none): give that directory, or the position with --start-position FILE:POS",
			dir, strings.TrimPrefix(err.Error(), "read backup position: "))
	}
	return nil
}

// resolveBinlogFiles is logfile.Resolve, saying what to give when the
// arguments name no binlog files.
func resolveBinlogFiles(args []string) ([]string, error) {
	files, err := logfile.Resolve(args)
	var pathErr *fs.PathError
	switch {
	case err == nil:
		return files, nil
	case len(args) == 0:
		return nil, errors.New("no binlog files given: give the directory that holds them, the files (mysql-bin.000042 ...) " +
			"or their .index file, or read them from a server with --source DSN")
	case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist: give the directory that holds the binlogs, the files themselves "+
			"or their .index file", pathErr.Path)
	case strings.HasSuffix(err.Error(), "no binlog files found"):
		return nil, fmt.Errorf("no binlog files in %s: a binlog file is named like mysql-bin.000042 (.gz and .zst too) "+
			"and begins with the binlog magic number; give the directory that holds them", strings.Join(args, ", "))
	}
	return nil, err
}

// explainPrivileges adds to err, when it is the target refusing the
// replay's user access to a database or table (errors 1044, 1142), the
// privileges the replay needs.
func explainPrivileges(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1044 && me.Number != 1142 {
		return err
	}
	return fmt.Errorf("%w\nThe replay's user on the target needs all privileges on the %s database (its checkpoint), "+
		"for the row events, statements and DDL in the binlogs their privileges on their databases, and, to pass row events "+
		"through (--apply binlog), BINLOG REPLAY (MariaDB 10.5 and later; BINLOG_ADMIN on MySQL 8) or SUPER (without it, "+
		"--apply auto applies them as SQL on a MariaDB target); as an administrator: GRANT ALL ON %s.* TO <account>; "+
		"GRANT BINLOG REPLAY ON *.* TO <account> (SELECT CURRENT_USER() names the account)",
		err, replay.CheckpointSchema, replay.CheckpointSchema)
}
