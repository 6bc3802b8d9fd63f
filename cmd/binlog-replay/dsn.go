package main

import (
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

// resolveDSN checks a go-sql-driver DSN and, when it has no password, takes
// the one in the MYSQL_PWD environment variable, so that passwords need not
// be on the command line. The result must never be printed.
func resolveDSN(flagName, dsn string) (string, error) {
	if dsn == "" {
		return "", fmt.Errorf("--%s is required (a DSN such as 'root@unix(/run/mysqld/mysqld.sock)/' or 'user@tcp(host:3306)/')", flagName)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	if cfg.Passwd == "" {
		cfg.Passwd = os.Getenv("MYSQL_PWD")
	}
	return cfg.FormatDSN(), nil
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
