// Package reference runs the reference a replay is compared with (the
// anchor): binlogs applied by MariaDB's own mariadb-binlog | mariadb
// pipeline. It also reads a source's binlog position and checksums tables so
// that two servers' data can be compared.
package reference

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// ReplayWithMariaDBBinlog applies files from start (file base name + pos) to
// the server at socket with the mariadb-binlog | mariadb pipeline, as root.
// Used as the sequential anchor: the reference behaviour a replay must
// match. files are the binlog files in order (full paths); those before
// startFile are skipped, and startPos applies to startFile. The client runs
// with --binary-mode, so statements holding NUL bytes pass. It returns an
// error holding both programs' stderr if either fails, or if ctx is
// cancelled (both are killed then).
func ReplayWithMariaDBBinlog(ctx context.Context, files []string, startFile string, startPos uint64, targetSocket string) error {
	_, err := ApplyWithMariaDBBinlog(ctx, files, startFile, startPos, Client{Socket: targetSocket})
	return err
}

// Client says how the mariadb client of ApplyWithMariaDBBinlog reaches the
// target: over its unix Socket or, when Host is set, over TCP to Host and
// Port.
type Client struct {
	Socket string
	Host   string
	Port   int
}

// args returns the client's connection options.
func (c Client) args() []string {
	if c.Host != "" {
		return []string{"--protocol=TCP", "--host=" + c.Host, fmt.Sprintf("--port=%d", c.Port)}
	}
	return []string{"--socket=" + c.Socket}
}

// PipelineCPU is the processor time (user and system) the two programs
// of the pipeline used.
type PipelineCPU struct {
	Binlog, Client time.Duration
}

// ApplyWithMariaDBBinlog is ReplayWithMariaDBBinlog with the client
// reaching the target as c says. It returns the CPU time both programs
// used, also when one failed.
func ApplyWithMariaDBBinlog(ctx context.Context, files []string, startFile string, startPos uint64, c Client) (PipelineCPU, error) {
	var cpu PipelineCPU
	from := -1
	for i, f := range files {
		if filepath.Base(f) == startFile {
			from = i
			break
		}
	}
	if from < 0 {
		return cpu, fmt.Errorf("replay with mariadb-binlog: start file %q not among %d files", startFile, len(files))
	}
	binlogProg, err := lookPath("mariadb-binlog", "mysqlbinlog")
	if err != nil {
		return cpu, err
	}
	clientProg, err := lookPath("mariadb", "mysql")
	if err != nil {
		return cpu, err
	}
	// LOAD DATA's files go to a directory of this replay's, removed after
	// (by default mariadb-binlog leaves them in the system's temporary
	// directory).
	loadDir, err := os.MkdirTemp("", "anchor-load-")
	if err != nil {
		return cpu, fmt.Errorf("replay with mariadb-binlog: %w", err)
	}
	defer os.RemoveAll(loadDir)
	args := []string{"--local-load=" + loadDir, fmt.Sprintf("--start-position=%d", startPos)}
	if filepath.Base(binlogProg) == "mariadb-binlog" {
		// MariaDB sequence numbers need not rise in a domain (another
		// server id, SET gtid_seq_no): mariadb-binlog refuses them by
		// default ("Found out of order GTID"). MySQL's mysqlbinlog has no
		// such check, and no such option.
		args = append(args, "--skip-gtid-strict-mode")
	}
	args = append(args, files[from:]...)
	dump := exec.CommandContext(ctx, binlogProg, args...)
	load := exec.CommandContext(ctx, clientProg, append(append([]string{"--no-defaults"}, c.args()...),
		"--user=root", "--binary-mode", "--batch")...)
	var dumpErr, loadErr bytes.Buffer
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	r, w, err := os.Pipe()
	if err != nil {
		return cpu, fmt.Errorf("replay with mariadb-binlog: create pipe: %w", err)
	}
	dump.Stdout, load.Stdin = w, r
	if err := load.Start(); err != nil {
		r.Close()
		w.Close()
		return cpu, fmt.Errorf("replay with mariadb-binlog: start %s: %w", clientProg, err)
	}
	r.Close()
	if err := dump.Start(); err != nil {
		w.Close()
		_ = load.Wait()
		cpu.Client = processCPU(load.ProcessState)
		return cpu, fmt.Errorf("replay with mariadb-binlog: start %s: %w", binlogProg, err)
	}
	w.Close()
	dumpWait, loadWait := dump.Wait(), load.Wait()
	cpu = PipelineCPU{Binlog: processCPU(dump.ProcessState), Client: processCPU(load.ProcessState)}
	if loadWait != nil || dumpWait != nil {
		return cpu, fmt.Errorf("replay with mariadb-binlog from %s:%d: %s: %v: %s; %s: %v: %s",
			startFile, startPos, filepath.Base(binlogProg), dumpWait, strings.TrimSpace(dumpErr.String()),
			filepath.Base(clientProg), loadWait, strings.TrimSpace(loadErr.String()))
	}
	return cpu, nil
}

// processCPU returns the user and system time of an exited process, 0
// when it did not run.
func processCPU(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// lookPath returns the path of the first of names found in $PATH.
func lookPath(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("find program: none of %v in PATH", names)
}

// BinlogPosition returns the server's current binlog file (base name) and
// position (SHOW MASTER STATUS), or an error if the query fails or the
// binlog is off.
func BinlogPosition(ctx context.Context, db *sql.DB) (file string, pos uint64, err error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, fmt.Errorf("show master status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, fmt.Errorf("show master status: %w", err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", 0, fmt.Errorf("show master status: %w", err)
		}
		return "", 0, fmt.Errorf("show master status: no row (binlog off?)")
	}
	vals := make([]any, len(cols))
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, fmt.Errorf("show master status: %w", err)
	}
	return file, pos, rows.Err()
}

// Checksums returns a checksum of every base table of schema, by table
// name: CHECKSUM TABLE ... EXTENDED, except for tables with VIRTUAL
// columns. For those CHECKSUM TABLE reads whatever the row buffer holds for
// the virtual columns (on MariaDB 10.11 its result changes across FLUSH
// TABLES on one server), so they get rowsChecksum instead. It returns an
// error if a table cannot be read.
func Checksums(ctx context.Context, db *sql.DB, schema string) (map[string]uint64, error) {
	tables, err := tableColumns(ctx, db, schema)
	if err != nil {
		return nil, err
	}
	sums := make(map[string]uint64, len(tables))
	for _, t := range tables {
		var sum uint64
		var err error
		if t.virtual {
			sum, err = rowsChecksum(ctx, db, schema, t)
		} else {
			sum, err = checksumTable(ctx, db, schema, t.Name)
		}
		if err != nil {
			return nil, err
		}
		sums[t.Name] = sum
	}
	return sums, nil
}

// tableInfo lists a table's stored columns and whether it has virtual ones.
type tableInfo struct {
	Name    string
	stored  []string
	virtual bool
}

// tableColumns returns the base tables of schema with their columns.
func tableColumns(ctx context.Context, db *sql.DB, schema string) ([]*tableInfo, error) {
	rows, err := db.QueryContext(ctx, "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.EXTRA "+
		"FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "+
		"ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "+
		"WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE' "+
		"ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION", schema)
	if err != nil {
		return nil, fmt.Errorf("list columns of %s: %w", schema, err)
	}
	defer rows.Close()
	var out []*tableInfo
	for rows.Next() {
		var table, col, extra string
		if err := rows.Scan(&table, &col, &extra); err != nil {
			return nil, fmt.Errorf("list columns of %s: %w", schema, err)
		}
		if len(out) == 0 || out[len(out)-1].Name != table {
			out = append(out, &tableInfo{Name: table})
		}
		t := out[len(out)-1]
		if strings.Contains(strings.ToUpper(extra), "VIRTUAL") {
			t.virtual = true
		} else {
			t.stored = append(t.stored, col)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list columns of %s: %w", schema, err)
	}
	return out, nil
}

func checksumTable(ctx context.Context, db *sql.DB, schema, table string) (uint64, error) {
	var name string
	var sum sql.Null[uint64]
	q := fmt.Sprintf("CHECKSUM TABLE %s.%s EXTENDED", sqlvals.Ident(schema), sqlvals.Ident(table))
	if err := db.QueryRowContext(ctx, q).Scan(&name, &sum); err != nil {
		return 0, fmt.Errorf("checksum %s.%s: %w", schema, table, err)
	}
	if !sum.Valid {
		return 0, fmt.Errorf("checksum %s.%s: NULL (table cannot be read)", schema, table)
	}
	return sum.V, nil
}

// rowsChecksum sums, over the rows, 60 bits of the MD5 of the stored
// columns' bytes (so it is independent of row order and counts
// duplicates), mixed with the row count. FLOAT and DOUBLE columns are
// compared through their text form.
func rowsChecksum(ctx context.Context, db *sql.DB, schema string, t *tableInfo) (uint64, error) {
	exprs := make([]string, len(t.stored))
	for i, c := range t.stored {
		exprs[i] = fmt.Sprintf("IFNULL(HEX(CAST(%s AS BINARY)), 'N')", sqlvals.Ident(c))
	}
	q := fmt.Sprintf("SELECT COUNT(*), CAST(IFNULL(SUM(CONV(LEFT(MD5(CONCAT_WS('|', %s)), 15), 16, 10)), 0) "+
		"%% 18446744073709551616 AS UNSIGNED) FROM %s.%s", strings.Join(exprs, ", "), sqlvals.Ident(schema), sqlvals.Ident(t.Name))
	var n, sum uint64
	if err := db.QueryRowContext(ctx, q).Scan(&n, &sum); err != nil {
		return 0, fmt.Errorf("checksum rows of %s.%s: %w", schema, t.Name, err)
	}
	return sum ^ n*0x9E3779B97F4A7C15, nil
}

// DiffChecksums describes how two Checksums results differ, one line per
// table; it returns nil when they are equal.
func DiffChecksums(want, got map[string]uint64) []string {
	var out []string
	for n, w := range want {
		g, ok := got[n]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing", n))
		case g != w:
			out = append(out, fmt.Sprintf("%s: checksum %d, want %d", n, g, w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			out = append(out, fmt.Sprintf("%s: unexpected table", n))
		}
	}
	slices.Sort(out)
	return out
}
