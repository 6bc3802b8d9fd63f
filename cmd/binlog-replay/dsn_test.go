package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// TestPasswordNeverPrinted runs the commands with DSNs holding a
// distinctive password (wrong for the server, or for an unreachable one,
// or in a DSN the driver cannot parse) and with the password in MYSQL_PWD:
// the password must appear in no output, error or JSON summary; a password
// on the command line draws a warning.
func TestPasswordNeverPrinted(t *testing.T) {
	const pw = "Pw-9137-Zq"
	srv := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	db, err := srv.Open(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verifyExec(t, db, "FLUSH BINARY LOGS")
	files, err := srv.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	wrongPw := fmt.Sprintf("root:%s@tcp(127.0.0.1:%d)/", pw, srv.Port)
	unreachable := "app:" + pw + "@tcp(127.0.0.1:1)/"
	const warning = "holds a password, which other users of this machine can read"

	type result struct {
		code int
		out  string
	}
	replayRun := func(args ...string) result {
		var stdout, stderr bytes.Buffer
		args = append(append([]string{"--progress", "plain"}, args...), files...)
		code := runReplay(t.Context(), args, &stdout, &stderr)
		return result{code, stdout.String() + stderr.String()}
	}
	verifyRun := func(args ...string) result {
		var stdout, stderr bytes.Buffer
		code := runVerify(t.Context(), args, &stdout, &stderr)
		return result{code, stdout.String() + stderr.String()}
	}
	cases := []struct {
		name string
		run  func() result
		code int
		want []string // in the output besides the warning, when it applies
		warn bool
	}{
		{"replay, wrong password", func() result { return replayRun("--target", wrongPw, "--json") },
			1, []string{"Access denied"}, true},
		{"replay, unreachable target", func() result { return replayRun("--target", unreachable, "--reconnect-for", "1s") },
			1, []string{"connection refused", "cannot connect to the target at tcp(127.0.0.1:1)"}, true},
		{"replay, unparsable DSN", func() result { return replayRun("--target", "app:"+pw+"@tcp(127.0.0.1:1/") },
			2, []string{"--target: invalid DSN"}, false},
		{"replay, DSN the driver quotes back", func() result { return replayRun("--target", "app:"+pw+"/x%zz@tcp(h)") },
			2, []string{"--target: invalid DSN"}, false},
		{"replay --verify-against, wrong password", func() result {
			return replayRun("--target", srv.DSN(""), "--stop-position", files[len(files)-1]+":4", "--verify-against", wrongPw)
		}, 1, []string{"Access denied", "cannot connect to the reference at tcp(127.0.0.1:", "--verify-against"}, true},
		{"verify, wrong password", func() result { return verifyRun("--target", srv.DSN(""), "--reference", wrongPw) },
			2, []string{"Access denied", "cannot connect to the reference at tcp(127.0.0.1:", "--reference"}, true},
		{"verify, unreachable", func() result { return verifyRun("--target", unreachable, "--reference", srv.DSN("")) },
			2, []string{"connection refused"}, true},
	}
	for _, c := range cases {
		res := c.run()
		t.Logf("%s: exit %d\n%s", c.name, res.code, res.out)
		if res.code != c.code || strings.Contains(res.out, pw) || strings.Contains(res.out, "x%zz") {
			t.Errorf("%s: exit %d (want %d), the output must not hold the password:\n%s", c.name, res.code, c.code, res.out)
		}
		for _, w := range c.want {
			if !strings.Contains(res.out, w) {
				t.Errorf("%s: the output does not say %q:\n%s", c.name, w, res.out)
			}
		}
		if got := strings.Contains(res.out, warning); got != c.warn {
			t.Errorf("%s: warning about the password on the command line: %v, want %v:\n%s", c.name, got, c.warn, res.out)
		}
	}

	// The password from MYSQL_PWD: no warning, and not printed either.
	t.Setenv("MYSQL_PWD", pw)
	res := replayRun("--target", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", srv.Port), "--json")
	if res.code != 1 || strings.Contains(res.out, pw) || strings.Contains(res.out, warning) || !strings.Contains(res.out, "Access denied") {
		t.Errorf("MYSQL_PWD, wrong password: exit %d, want 1, access denied, no warning, no password:\n%s", res.code, res.out)
	}
}

// TestResolveDSNWithoutServer checks the warning and the parse errors of
// resolveDSN alone.
func TestResolveDSNWithoutServer(t *testing.T) {
	const pw = "Pw-5521-Kx"
	t.Setenv("MYSQL_PWD", "from-env")
	var warn bytes.Buffer
	dsn, err := resolveDSN("target", "app:"+pw+"@tcp(db:3306)/", &warn)
	if err != nil || !strings.Contains(dsn, pw) || !strings.Contains(warn.String(), "--target DSN holds a password") || strings.Contains(warn.String(), pw) {
		t.Errorf("password in the DSN: %v, warning %q", err, warn.String())
	}
	warn.Reset()
	if dsn, err = resolveDSN("target", "app@tcp(db:3306)/", &warn); err != nil || !strings.Contains(dsn, ":from-env@") || warn.Len() > 0 {
		t.Errorf("password from MYSQL_PWD: %v, warning %q", err, warn.String())
	}
	for _, bad := range []string{"app:" + pw + "/x%zz@tcp(h)", "app:" + pw + "@tcp(h:1/", "app:" + pw + "@tcp(h)/db?timeout=" + pw} {
		if _, err := resolveDSN("target", bad, &warn); err == nil || strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "x%zz") {
			t.Errorf("unparsable DSN %q: error %v", bad, err)
		}
	}
}
