package replay

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestIsConnectionLoss: the errors of a target that went away are taken as
// a lost connection (reconnect), the target's refusals are not. Among the
// first, go-sql-driver's "bad connection" for a pooled connection found
// broken before anything was sent (soak seed 6007), which is not
// driver.ErrBadConn.
func TestIsConnectionLoss(t *testing.T) {
	for _, c := range []struct {
		err  error
		lost bool
	}{
		{fmt.Errorf("connect to target: %w", errors.New("bad connection")), true},
		{fmt.Errorf("connect to target: %w", driver.ErrBadConn), true},
		{fmt.Errorf("apply: %w", mysql.ErrInvalidConn), true},
		{&mysql.MySQLError{Number: errServerShutdown}, true},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{errors.New("bad connection string"), false},
		{sourceError{driver.ErrBadConn}, false},
		{nil, false},
	} {
		if got := isConnectionLoss(c.err); got != c.lost {
			t.Errorf("isConnectionLoss(%v) = %v, want %v", c.err, got, c.lost)
		}
	}
}
