package probe

import (
	"database/sql"
	"errors"

	"github.com/go-sql-driver/mysql"
)

// closeRows closes rows, returning the iteration's error first.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// errorNumber returns err's server error number, 0 if it is not a
// server error.
func errorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
