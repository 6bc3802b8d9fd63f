package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

func TestRunVerify(t *testing.T) {
	ts := sandbox.ForTest(t, sandbox.Options{})
	rs := sandbox.ForTest(t, sandbox.Options{})
	for _, s := range []*sandbox.Server{ts, rs} {
		db, err := s.Open(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		verifyExec(t, db,
			"CREATE DATABASE vc",
			"CREATE TABLE vc.t (id INT PRIMARY KEY, v VARCHAR(10))",
			"INSERT INTO vc.t SELECT seq, seq FROM vc.seq_1_to_50",
			"CREATE USER v@localhost IDENTIFIED BY 'pw'",
			"GRANT SELECT ON *.* TO v@localhost")
	}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := runVerify(t.Context(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	target, ref := "--target="+ts.DSN(""), "--reference="+rs.DSN("")

	if code, out, errOut := run(target, ref, "--databases=vc"); code != 0 || !strings.Contains(out, "1 tables compared, all equal") {
		t.Errorf("identical: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Password from MYSQL_PWD when the DSN has none.
	userDSN := func(s *sandbox.Server) string { return "v@unix(" + s.Socket + ")/" }
	t.Setenv("MYSQL_PWD", "pw")
	if code, _, errOut := run("--target="+userDSN(ts), "--reference="+userDSN(rs), "--tables=vc.t"); code != 0 {
		t.Errorf("with MYSQL_PWD: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("MYSQL_PWD", "")
	if code, _, errOut := run("--target="+userDSN(ts), "--reference="+userDSN(rs)); code != 2 || !strings.Contains(errOut, "cannot connect to the target") {
		t.Errorf("without password: exit %d, stderr %q; want 2 and a connect error", code, errOut)
	}

	tdb, err := ts.Open(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer tdb.Close()
	verifyExec(t, tdb, "DELETE FROM vc.t WHERE id = 33")
	code, out, errOut := run(target, ref, "--databases=vc", "--chunk-size=10", "--log-values")
	if code != 1 || !strings.Contains(out, "`vc`.`t`: data differs") || !strings.Contains(out, "row id=33: missing in target") {
		t.Errorf("differing: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without --log-values the key values are left out, the rest is said.
	code, out, errOut = run(target, ref, "--databases=vc", "--chunk-size=10")
	if code != 1 || !strings.Contains(out, "row id=?: missing in target") || strings.Contains(out+errOut, "33") {
		t.Errorf("differing, values hidden: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run(target, ref, "--databases=vc", "--json")
	var got struct {
		Equal  bool `json:"equal"`
		Tables []struct {
			Table      string `json:"table"`
			Status     string `json:"status"`
			RowsTarget int64  `json:"rows_target"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if code != 1 || got.Equal || len(got.Tables) != 1 || got.Tables[0].Status != "data_differs" || got.Tables[0].RowsTarget != 49 {
		t.Errorf("--json: exit %d, %+v", code, got)
	}

	for _, args := range [][]string{
		{ref},                         // no target
		{target, ref, "--tables=vct"}, // not db.table
		{target, ref, "--chunk-size=0"},
		{target, ref, "extra"},
		{target, ref, "--tables=vc.nope"}, // on neither server
	} {
		if code, _, errOut := run(args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}

func verifyExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
