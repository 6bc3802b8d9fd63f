package event

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

// TestFlags2Written checks which MariaDB flags2 bits a server version is
// taken to write, against what mariadb-binlog 10.11 prints for a binlog
// whose format description names that version (checked by hand: the
// version string of a 10.11 binlog rewritten, mariadb-binlog run on it).
func TestFlags2Written(t *testing.T) {
	const always = txn.Flags2NoCheckConstraintChecks | txn.Flags2InsertHistory
	for _, c := range []struct {
		version string
		want    uint32
	}{
		{"5.7.40-log", always},
		{"8.0.30", always},
		{"10.0.15-MariaDB-log", always},
		{"10.4.30-MariaDB", always},
		{"10.5.1-MariaDB", always},
		{"10.5.2-MariaDB", always | txn.Flags2IfExists},
		{"10.5.16-MariaDB", always | txn.Flags2IfExists},
		{"10.5.17-MariaDB", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
		{"10.6.8-MariaDB", always | txn.Flags2IfExists},
		{"10.6.9-MariaDB", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
		{"10.7.4-MariaDB", always | txn.Flags2IfExists},
		{"10.8.4-MariaDB", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
		{"10.9.1-MariaDB", always | txn.Flags2IfExists},
		{"10.10.0-MariaDB", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
		{"10.11.19-MariaDB-0+deb12u1-log", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
		{"11.8.5-MariaDB-ubu2404-log", always | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp},
	} {
		flavor := txn.FlavorMySQL
		if strings.Contains(c.version, "MariaDB") {
			flavor = txn.FlavorMariaDB
		}
		if got := flags2Written(c.version, flavor); got != c.want {
			t.Errorf("%s: flags2Written = %#x, want %#x", c.version, got, c.want)
		}
	}
}
