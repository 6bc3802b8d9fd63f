package preflight

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Target is what the checks read from the target server.
type Target struct {
	Version string `json:"version"`
	MariaDB bool   `json:"mariadb"`
	// Vars are the global variables the checks look at, as the server
	// reports them (missing ones are absent).
	Vars map[string]string `json:"variables"`
	// User is CURRENT_USER(); Grants what SHOW GRANTS lists for it.
	User   string   `json:"user"`
	Grants []string `json:"grants"`
	// DataBytes is the data and index size of the tables the binlogs
	// write that the target has, AllDataBytes of every user table.
	DataBytes    int64 `json:"written_tables_bytes"`
	AllDataBytes int64 `json:"all_tables_bytes"`
	// Local is set when the target's datadir is on this machine (the
	// scratch schema's directory was found there); Disk is then its
	// filesystem's space, and BinlogDisk that of the target's binlog
	// directory when it is on another filesystem.
	Local      bool       `json:"local"`
	Disk       *DiskSpace `json:"disk,omitempty"`
	BinlogDisk *DiskSpace `json:"binlog_disk,omitempty"`
}

// variables are the global variables read from the target.
var variables = []string{
	"version", "version_comment", "log_bin", "log_bin_basename", "sync_binlog", "binlog_format",
	"innodb_flush_log_at_trx_commit", "innodb_doublewrite", "innodb_buffer_pool_size",
	"max_allowed_packet", "lock_wait_timeout", "innodb_lock_wait_timeout", "datadir",
	"innodb_flush_method", "innodb_log_file_size", "gtid_strict_mode",
}

// openTarget opens a pool to the target with multi-statement packets
// allowed (as the replay's sessions send the checkpoint and COMMIT in one),
// and pings it within timeout.
func openTarget(ctx context.Context, dsn string, tlsConfig *tls.Config, timeout time.Duration) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse the target DSN: %w", err)
	}
	if tlsConfig != nil {
		cfg.TLS, cfg.AllowFallbackToPlaintext = tlsConfig.Clone(), false
	}
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	cfg.MaxAllowedPacket = 0 // the server's
	if cfg.Timeout == 0 {
		cfg.Timeout = timeout
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open the target: %w", err)
	}
	db := sql.OpenDB(connector)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	return db, nil
}

// readTarget reads the target's version, variables, account, grants and
// the size of the tables the binlogs write.
func readTarget(ctx context.Context, db *sql.DB, written []TableWrites) (*Target, error) {
	t := &Target{Vars: map[string]string{}}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('"+strings.Join(variables, "','")+"')")
	if err != nil {
		return nil, fmt.Errorf("read the target's variables: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the target's variables: %w", err)
		}
		t.Vars[strings.ToLower(k)] = v
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("read the target's variables: %w", err)
	}
	t.Version = t.Vars["version"]
	t.MariaDB = strings.Contains(strings.ToLower(t.Version+" "+t.Vars["version_comment"]), "mariadb")
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&t.User); err != nil {
		return nil, fmt.Errorf("read the target's account: %w", err)
	}
	if t.Grants, err = readGrants(ctx, db); err != nil {
		return nil, err
	}
	if t.DataBytes, t.AllDataBytes, err = tableBytes(ctx, db, written); err != nil {
		return nil, err
	}
	return t, nil
}

// readGrants returns what SHOW GRANTS lists for the current account.
func readGrants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("read the target account's grants: %w", err)
	}
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the target account's grants: %w", err)
		}
		out = append(out, g)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("read the target account's grants: %w", err)
	}
	return out, nil
}

// tableBytes returns the data and index size of the written tables the
// target has, and of every user table: the larger of what
// information_schema.TABLES says (statistics, which a restored server may
// not have brought up to date) and the size of the table's InnoDB file.
func tableBytes(ctx context.Context, db *sql.DB, written []TableWrites) (int64, int64, error) {
	sizes := map[string]int64{}
	rows, err := db.QueryContext(ctx, "SELECT CONCAT(table_schema, '/', table_name), COALESCE(data_length, 0) + COALESCE(index_length, 0) "+
		"FROM information_schema.TABLES WHERE table_type = 'BASE TABLE' AND "+
		"table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')")
	if err != nil {
		return 0, 0, fmt.Errorf("read the target's table sizes: %w", err)
	}
	if err := scanSizes(rows, sizes); err != nil {
		return 0, 0, fmt.Errorf("read the target's table sizes: %w", err)
	}
	// MariaDB's INNODB_SYS_TABLESPACES, MySQL's INNODB_TABLESPACES: the
	// files' sizes (a partition's name has #P# after the table's).
	for _, view := range []string{"INNODB_SYS_TABLESPACES", "INNODB_TABLESPACES"} {
		rows, err := db.QueryContext(ctx, "SELECT SUBSTRING_INDEX(name, '#', 1), SUM(file_size) FROM information_schema."+view+" GROUP BY 1")
		if err != nil {
			continue
		}
		files := map[string]int64{}
		if err := scanSizes(rows, files); err != nil {
			return 0, 0, fmt.Errorf("read the target's tablespace sizes: %w", err)
		}
		for name, n := range files {
			if old, ok := sizes[name]; ok && n > old {
				sizes[name] = n
			}
		}
		break
	}
	want := map[string]bool{}
	for _, w := range written {
		want[w.Schema+"/"+w.Table] = true
	}
	var some, all int64
	for name, n := range sizes {
		all += n
		if want[name] {
			some += n
		}
	}
	return some, all, nil
}

// scanSizes reads rows of (name, bytes) into sizes and closes rows.
func scanSizes(rows *sql.Rows, sizes map[string]int64) error {
	for rows.Next() {
		var name string
		var n sql.NullInt64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return err
		}
		sizes[name] += n.Int64
	}
	return closeRows(rows)
}

// closeRows closes rows and returns the iteration's error.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// intVar returns the target's variable name as an integer.
func (t *Target) intVar(name string) (int64, bool) {
	v, ok := t.Vars[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}

// boolVar returns the target's variable name as a boolean (ON, 1).
func (t *Target) boolVar(name string) (bool, bool) {
	v, ok := t.Vars[name]
	if !ok {
		return false, false
	}
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "ON", "1", "TRUE", "YES":
		return true, true
	}
	return false, true
}

// mysqlErrorNumber returns the server error number err wraps, or 0.
func mysqlErrorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
