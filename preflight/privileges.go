package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/txn"
)

// checkpointSchema is the replay's database on the target (its
// checkpoint and lock records).
const checkpointSchema = target.CheckpointSchema

// binlogStatementCheck sends the format description of the file the
// replay starts in as a BINLOG statement, as the replay does before it
// writes: it fails when the account may not run BINLOG statements.
// "" when it may, else what is wrong; a format that cannot be read is
// reported as unknown (ok false).
func binlogStatementCheck(ctx context.Context, db *sql.DB, files []string, start txn.Position) (problem string, ok bool) {
	path := ""
	for _, f := range files {
		if start.IsZero() || logfile.Name(f) == start.File {
			path = f
			break
		}
	}
	if path == "" {
		return "", false
	}
	f, err := logfile.ReadFormat(path)
	if err != nil {
		return "", false
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", false
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, sqlgen.BinlogStatement([]*txn.Event{{Raw: f.Raw}}))
	switch {
	case err == nil:
		return "", true
	case mysqlErrorNumber(err) == 1227:
		return fmt.Sprintf("the account may not run BINLOG statements, which apply the row events (%v)", err), true
	}
	return fmt.Sprintf("the target refused a BINLOG statement with the binlogs' format description (%v)", err), true
}

// binlogPrivilegeCheck checks that the account may run BINLOG statements,
// which pass the row events through. With --apply sql they are not
// needed (but a MariaDB target is); with --apply auto on MariaDB, an
// account that may not run them only warns: the replay will apply the row
// events as SQL, which is slower and refuses tables with triggers.
func binlogPrivilegeCheck(ctx context.Context, db *sql.DB, t *Target, sel Selection, apply string) Check {
	binlogPriv := "BINLOG REPLAY (MariaDB 10.5 and later) or SUPER"
	if !t.MariaDB {
		binlogPriv = "BINLOG_ADMIN or SUPER"
	}
	c := Check{Name: "privilege: BINLOG statements", Value: t.User,
		What: "the replay passes row events through as BINLOG statements, which need " + binlogPriv +
			"; without it, on MariaDB, --apply auto (the default) applies them as SQL statements instead.",
		Fix: "GRANT " + strings.Split(binlogPriv, " (")[0] + " ON *.* TO <account>; it may stay granted (or be revoked) after the recovery."}
	if apply == "sql" {
		if !t.MariaDB {
			c.Status, c.Finding = Fail, "--apply sql needs a MariaDB target (its statements use SET STATEMENT); use --apply binlog"
		} else {
			c.Status, c.Finding = OK, "not needed: --apply sql applies the row events as SQL statements"
		}
		return c
	}
	problem, ok := binlogStatementCheck(ctx, db, sel.Files, sel.Start)
	switch {
	case !ok:
		c.Status, c.Finding = Unknown, "not tried (the binlogs' format description could not be read)"
	case problem == "":
		c.Status, c.Finding = OK, "a BINLOG statement with the binlogs' format description ran"
	case apply != "binlog" && t.MariaDB:
		c.Status, c.Finding = Warn, problem+": the replay (--apply auto) will apply the row events as SQL statements instead, "+
			"which is slower than passing them through and refuses tables with triggers (--sql-triggers); the estimate assumes passthrough"
	default:
		c.Status, c.Finding = Fail, problem
	}
	return c
}

// privilegeChecks returns the checks of the account's privileges: what
// the replay needs (BINLOG statements unless it applies row events as SQL,
// its own database, writing the tables the binlogs write) and what it uses
// when it has it. apply is the replay's --apply ("" is auto).
func privilegeChecks(ctx context.Context, db *sql.DB, t *Target, b *Binlogs, sel Selection, apply string, binlogOn bool) []Check {
	g := parseGrants(t.Grants)
	unknownIfRoles := func(c Check) Check {
		if c.Status == Fail && g.roles {
			c.Status = Unknown
			c.Finding += " (the account has roles, whose privileges are not read: check them)"
		}
		return c
	}
	var out []Check
	out = append(out, binlogPrivilegeCheck(ctx, db, t, sel, apply))

	need := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP"}
	var lack []string
	for _, p := range need {
		if !g.onDatabase(checkpointSchema, p) {
			lack = append(lack, p)
		}
	}
	c := Check{Name: "privilege: " + checkpointSchema + ".*", Value: t.User,
		What: "the replay keeps its checkpoint, lock records and staging tables in the " + checkpointSchema + " database, which it creates.",
		Fix:  "GRANT ALL ON " + checkpointSchema + ".* TO <account>; keep it while a resume may be needed."}
	if len(lack) == 0 {
		c.Status, c.Finding = OK, "granted"
	} else {
		c.Status, c.Finding = Fail, "lacks "+strings.Join(lack, ", ")
	}
	out = append(out, unknownIfRoles(c))

	var missing []string
	for _, tw := range b.Tables {
		var ops []string
		for _, op := range []struct {
			on   bool
			priv string
		}{{tw.Insert, "INSERT"}, {tw.Update, "UPDATE"}, {tw.Delete, "DELETE"}} {
			if op.on && !g.onTable(tw.Schema, tw.Table, op.priv) {
				ops = append(ops, op.priv)
			}
		}
		if len(ops) > 0 {
			missing = append(missing, fmt.Sprintf("%s on %s.%s", strings.Join(ops, ", "), tw.Schema, tw.Table))
		}
	}
	c = Check{Name: "privilege: writing the data", Value: t.User,
		What: fmt.Sprintf("the row events write %d tables; a write refused stops the replay at its transaction.", len(b.Tables)),
		Fix:  "GRANT ALL ON <database>.* TO <account> for each database the binlogs write (plan lists them)."}
	switch {
	case len(b.Tables) == 0:
		c.Status, c.Finding = OK, "the binlogs write no rows"
	case len(missing) == 0:
		c.Status, c.Finding = OK, "INSERT, UPDATE and DELETE granted where the row events need them"
	default:
		sort.Strings(missing)
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		c.Status, c.Finding = Fail, "lacks "+strings.Join(missing, "; ")
	}
	out = append(out, unknownIfRoles(c))

	if b.DDLTxns+b.StmtTxns > 0 {
		var lackDDL []string
		for _, s := range b.DDLSchemas {
			if s != "" && !g.onDatabase(s, "ALL PRIVILEGES") && !g.onDatabase(s, "CREATE") {
				lackDDL = append(lackDDL, s)
			}
		}
		c = Check{Name: "privilege: DDL and statements", Value: t.User,
			What: fmt.Sprintf("%d DDL and %d statement-format transactions run as SQL and need their own privileges (CREATE, ALTER, DROP, INDEX...), as for mysqlbinlog | mysql.",
				b.DDLTxns, b.StmtTxns),
			Fix: "GRANT ALL ON <database>.* TO <account>."}
		if len(lackDDL) == 0 {
			c.Status, c.Finding = OK, "the account has CREATE (or ALL) where they run"
		} else {
			c.Status, c.Finding = Warn, "no CREATE on "+strings.Join(lackDDL, ", ")+": check what the statements need (plan lists them)"
		}
		out = append(out, c)
	}

	if t.MariaDB {
		c = Check{Name: "privilege: BINLOG ADMIN", Value: t.User,
			What: "lets the replay keep the source's GTIDs in the target's binlog (sql_log_bin, gtid_seq_no): the restored server then ends at the lost one's gtid_binlog_pos.",
			Fix:  "GRANT BINLOG ADMIN ON *.* TO <account> (revoke it afterwards if the account stays)."}
		switch {
		case g.has("BINLOG ADMIN") || g.has("SUPER"):
			c.Status, c.Finding = OK, "granted"
		case !binlogOn:
			c.Status, c.Finding = OK, "not granted; not needed: the target's binlog is off"
		default:
			c.Status, c.Finding = Warn, "not granted: the target's binlog will log the replayed transactions with GTIDs of its own (--target-gtids)"
		}
		out = append(out, unknownIfRoles(c))
	}
	var opt []string
	if !g.has("PROCESS") {
		opt = append(opt, "PROCESS (without it a commit-order deadlock lasts the 2 s lock wait timeout instead of about 0.1 s)")
	}
	if !g.has("CONNECTION ADMIN") && !g.has("SUPER") {
		opt = append(opt, "CONNECTION ADMIN (without it a resume cannot end the sessions a lost run of another account left)")
	}
	c = Check{Name: "privilege: PROCESS, CONNECTION ADMIN", Value: t.User,
		What: "optional privileges the replay uses when it has them.", Fix: "GRANT PROCESS, CONNECTION ADMIN ON *.* TO <account>."}
	if len(opt) == 0 {
		c.Status, c.Finding = OK, "granted"
	} else {
		c.Status, c.Finding = Warn, "not granted: "+strings.Join(opt, "; ")
	}
	out = append(out, c)
	return out
}
