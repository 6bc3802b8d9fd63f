package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
)

// Distinctive values written by valuesWorkload, which must not be printed
// unless --log-values is given.
const (
	rowSecret  = "S3cr3t-row-7f2a"
	stmtSecret = "S3cr3t-stmt-91cd"
	ddlSecret  = "S3cr3t-ddl-c04e"
)

// valuesWorkload writes one row-format insert of rowSecret, one
// statement-format insert of stmtSecret and a DDL quoting ddlSecret.
func valuesWorkload(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range []string{
		"INSERT INTO sec.t VALUES ('plain-1', 1)",
		fmt.Sprintf("INSERT INTO sec.t VALUES ('%s', 2)", rowSecret),
		"SET SESSION binlog_format = 'STATEMENT'",
		fmt.Sprintf("INSERT INTO sec.t VALUES ('%s', 3)", stmtSecret),
		fmt.Sprintf("CREATE TABLE sec.d (c VARCHAR(40) DEFAULT '%s')", ddlSecret),
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// TestValuesNotLogged replays into a target pre-seeded with rows that
// conflict with the workload's: first a row event fails on a duplicate key
// (its value in the server's message), then, once that row is removed, a
// statement-format insert (its values in the statement and the message).
// Without --log-values the secret values appear nowhere in the output
// (text, JSON summary, log lines), while the error code, table and key
// names do; with --log-values they are shown. verify and plan follow the
// same rule for the key values of differing rows and the literals of DDL.
func TestValuesNotLogged(t *testing.T) {
	sc := replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, "CREATE DATABASE sec")
		if err == nil {
			_, err = db.ExecContext(ctx, "CREATE TABLE sec.t (k VARCHAR(40) PRIMARY KEY, v INT)")
		}
		return err
	}, valuesWorkload)
	tgt, db := sc.Target(t)
	verifyExec(t, db, fmt.Sprintf("INSERT INTO sec.t VALUES ('%s', 99), ('%s', 99)", rowSecret, stmtSecret))

	replayRun := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"--target", tgt.DSN(""), "--progress", "plain", "--reconnect-for", "0"}, args...)
		code := runReplay(t.Context(), append(args, sc.Files...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	start := "--start-position=" + sc.Start.String()
	requireHidden := func(what, out, secret string, want ...string) {
		t.Helper()
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%X", secret)) {
			t.Errorf("%s: the value %s was printed without --log-values:\n%s", what, secret, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the output does not say %q:\n%s", what, w, out)
			}
		}
	}

	// The row event fails: once with --json, then with text output.
	code, out := replayRun(start, "--json", "--workers", "4")
	requireHidden("row event, --json", out, rowSecret, "1062", "Duplicate entry '?' for key 'PRIMARY'", "on table sec.t", "BINLOG statement (")
	var sum struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &sum); err != nil || code != 1 || !strings.Contains(sum.Error, "1062") {
		t.Errorf("row event, --json: exit %d, summary error %q (%v)", code, sum.Error, err)
	}
	code, out = replayRun("--resume")
	requireHidden("row event", out, rowSecret, "Duplicate entry '?' for key 'PRIMARY'")
	t.Logf("row event, values hidden:\n%s", out)
	if code != 1 {
		t.Errorf("row event: exit %d, want 1", code)
	}
	if _, out = replayRun("--resume", "--json", "--log-values"); !strings.Contains(out, rowSecret) {
		t.Errorf("row event with --log-values: the value is not shown:\n%s", out)
	}

	// The statement-format insert fails.
	verifyExec(t, db, fmt.Sprintf("DELETE FROM sec.t WHERE k = '%s'", rowSecret))
	code, out = replayRun("--resume", "--json")
	requireHidden("statement", out, stmtSecret, "1062", "Duplicate entry '?' for key 'PRIMARY'", "INSERT INTO sec.t VALUES (?, ?)")
	t.Logf("statement, values hidden:\n%s", out)
	if code != 1 {
		t.Errorf("statement: exit %d, want 1", code)
	}
	if _, out = replayRun("--resume", "--log-values"); strings.Count(out, stmtSecret) < 2 {
		t.Errorf("statement with --log-values: the statement and the message should both show the value:\n%s", out)
	}

	// verify: the target's stmtSecret row differs from the source's.
	verifyRun := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := runVerify(t.Context(), append([]string{"--target", tgt.DSN(""), "--reference", sc.Source.DSN(""), "--tables", "sec.t"}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	code, out = verifyRun()
	requireHidden("verify", out, stmtSecret, "row k=?: changed")
	if code != 1 {
		t.Errorf("verify: exit %d, want 1", code)
	}
	if code, out = verifyRun("--json"); code != 1 || strings.Contains(out, stmtSecret) {
		t.Errorf("verify --json: exit %d, the value printed:\n%s", code, out)
	}
	if _, out = verifyRun("--log-values"); !strings.Contains(out, fmt.Sprintf("%X", stmtSecret)) { // latin1 keys are shown in hex
		t.Errorf("verify --log-values: the key value is not shown:\n%s", out)
	}

	// plan: the DDL is a stop-point candidate, quoted without its literal.
	planRun := func(args ...string) string {
		var stdout, stderr bytes.Buffer
		runPlan(t.Context(), append(args, sc.Files...), &stdout, &stderr)
		return stdout.String() + stderr.String()
	}
	requireHidden("plan", planRun(), ddlSecret, "CREATE TABLE sec.d (c VARCHAR(?) DEFAULT ?)")
	requireHidden("plan --json", planRun("--json"), ddlSecret)
	if out := planRun("--log-values"); !strings.Contains(out, ddlSecret) {
		t.Errorf("plan --log-values: the DDL is not quoted whole:\n%s", out)
	}
}
