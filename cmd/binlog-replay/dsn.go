package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// sourcePwdEnv holds the password of the --source DSN when it has none.
const sourcePwdEnv = "BINLOG_REPLAY_SOURCE_PWD"

// resolveSourceDSN is resolveDSN for --source: the password comes from
// BINLOG_REPLAY_SOURCE_PWD when that is set (even empty), else MYSQL_PWD.
func resolveSourceDSN(dsn string, warn io.Writer) (string, error) {
	if pwd, ok := os.LookupEnv(sourcePwdEnv); ok {
		return resolveDSNWith("source", dsn, pwd, sourcePwdEnv, warn)
	}
	return resolveDSNWith("source", dsn, os.Getenv("MYSQL_PWD"), sourcePwdEnv+" (or MYSQL_PWD)", warn)
}

// resolveDSN checks a go-sql-driver DSN and, when it has no password, takes
// the one in the MYSQL_PWD environment variable, so that passwords need not
// be on the command line. When the DSN holds a password it writes a
// warning to warn (the password can be read from the process list); the
// password itself is never written, nor put in the error. The result must
// never be printed.
func resolveDSN(flagName, dsn string, warn io.Writer) (string, error) {
	return resolveDSNWith(flagName, dsn, os.Getenv("MYSQL_PWD"), "MYSQL_PWD", warn)
}

// resolveDSNWith is resolveDSN with the password pwd, from the environment
// variable env, filled in when the DSN has none.
func resolveDSNWith(flagName, dsn, pwd, env string, warn io.Writer) (string, error) {
	if dsn == "" {
		return "", fmt.Errorf("--%s is required (a DSN such as 'root@unix(/run/mysqld/mysqld.sock)/' or 'user@tcp(host:3306)/')", flagName)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("--%s: %s", flagName, parseErrorText(dsn, err))
	}
	if cfg.Passwd != "" {
		fmt.Fprintf(warn, "binlog-replay: warning: the --%s DSN holds a password, which other users of this machine can read "+
			"(ps, /proc); leave it out and set %s instead\n", flagName, env)
	} else {
		cfg.Passwd = pwd
	}
	return cfg.FormatDSN(), nil
}

// parseErrorText returns the message of err, an error of mysql.ParseDSN
// on dsn, unless it quotes part of what may be the DSN's password (the
// text between the first ':' and the last '@'): some of the driver's
// messages quote the DSN.
func parseErrorText(dsn string, err error) string {
	msg := err.Error()
	at := strings.LastIndexByte(dsn, '@')
	colon := strings.IndexByte(dsn, ':')
	if at < 0 || colon < 0 || colon > at {
		return msg
	}
	pw := dsn[colon+1 : at]
	const window = 4
	for i := 0; i+min(window, len(pw)) <= len(pw) && len(pw) > 0; i++ {
		if strings.Contains(msg, pw[i:i+min(window, len(pw))]) {
			return "invalid DSN (the driver's message is not shown: it quotes part of the DSN, which holds a password)"
		}
	}
	return msg
}

// redactDSN returns dsn without its password, for messages.
func redactDSN(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "xxxxx"
	}
	return cfg.FormatDSN()
}
