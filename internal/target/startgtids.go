package target

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// StartGTIDs reads the GTID set the target already holds (replay's
// --start-gtid target): MariaDB's @@gtid_current_pos (its binlog
// position, or gtid_slave_pos where that is further, as set from a base
// backup's GTID), MySQL's @@gtid_executed.
//
// A MariaDB position is a sequence number per domain, whatever the server
// id: a domain whose position the target wrote itself (its own server id,
// say a CREATE USER after the restore with its binlog on) would make it
// skip source transactions it does not hold, so it is refused.
func (t *Target) StartGTIDs(ctx context.Context) (txn.GTIDSet, error) {
	var pos string
	var serverID uint32
	q := "SELECT @@global.gtid_executed, @@server_id"
	if t.mariadb {
		q = "SELECT @@gtid_current_pos, @@server_id"
	}
	if err := t.db.QueryRowContext(ctx, q).Scan(&pos, &serverID); err != nil {
		return txn.GTIDSet{}, fmt.Errorf("--start-gtid target: read the target's GTID position: %w", err)
	}
	pos = strings.Join(strings.Fields(pos), "") // MySQL breaks long sets over lines
	if pos == "" {
		return txn.GTIDSet{}, errors.New("--start-gtid target: the target holds no GTID position; set it from the base " +
			"backup's (MariaDB: SET GLOBAL gtid_slave_pos = '...'; MySQL: RESET MASTER, SET GLOBAL gtid_purged = '...'), " +
			"or give --start-gtid SET or --start-position")
	}
	set, err := txn.ParseGTIDSet(pos)
	if err != nil {
		return txn.GTIDSet{}, fmt.Errorf("--start-gtid target: the target's GTID position %q: %w", pos, err)
	}
	if t.mariadb {
		for _, part := range strings.Split(pos, ",") {
			if g, err := txn.ParseGTID(part); err == nil && g.Server == serverID {
				return txn.GTIDSet{}, fmt.Errorf("--start-gtid target: the target's position in domain %d, %s, was written by the "+
					"target itself (server_id %d), not by the source: it cannot say which source transactions the target holds; "+
					"set gtid_slave_pos from the base backup and keep the target's own writes out of that domain, "+
					"or give --start-gtid SET", g.Domain, g, serverID)
			}
		}
	}
	t.logf("start GTID set read from the target: %s", pos)
	return set, nil
}
