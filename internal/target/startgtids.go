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
	pos, serverID, err := t.gtidPosition(ctx)
	if err != nil {
		return txn.GTIDSet{}, fmt.Errorf("--start-gtid target: %w", err)
	}
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

// gtidPosition reads the target's GTID position (MariaDB's
// @@gtid_current_pos, MySQL's @@gtid_executed, on one line) and its
// server id.
func (t *Target) gtidPosition(ctx context.Context) (pos string, serverID uint32, err error) {
	q := "SELECT @@global.gtid_executed, @@server_id"
	if t.mariadb {
		q = "SELECT @@gtid_current_pos, @@server_id"
	}
	if err := t.db.QueryRowContext(ctx, q).Scan(&pos, &serverID); err != nil {
		return "", 0, fmt.Errorf("read the target's GTID position: %w", err)
	}
	return strings.Join(strings.Fields(pos), ""), serverID, nil // MySQL breaks long sets over lines
}

// Holds reports whether the target holds g by its GTIDs, and what it
// read: MySQL's gtid_executed holding it; MariaDB's gtid_binlog_state (the
// last GTID of each server id in each domain its binlog holds) or
// gtid_slave_pos naming, in g's domain, a GTID of g's server id at or
// past g's sequence number (one of another server id, the target's own
// writes or another primary's, says nothing of g).
func (t *Target) Holds(ctx context.Context, g txn.GTID) (bool, string, error) {
	if g.IsZero() {
		return false, "", nil
	}
	if !t.mariadb || g.Flavor != txn.FlavorMariaDB {
		pos, _, err := t.gtidPosition(ctx)
		if err != nil || pos == "" || g.Flavor == txn.FlavorMariaDB {
			return false, pos, err
		}
		set, err := txn.ParseGTIDSet(pos)
		if err != nil {
			return false, pos, fmt.Errorf("the target's GTID position %q: %w", pos, err)
		}
		return set.Contains(g), "gtid_executed " + pos, nil
	}
	var state, slave string
	if err := t.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_state, @@GLOBAL.gtid_slave_pos").Scan(&state, &slave); err != nil {
		return false, "", fmt.Errorf("read the target's GTID state: %w", err)
	}
	read := fmt.Sprintf("gtid_binlog_state '%s', gtid_slave_pos '%s'", state, slave)
	for _, part := range strings.Split(state+","+slave, ",") {
		if p, err := txn.ParseGTID(strings.TrimSpace(part)); err == nil && p.Domain == g.Domain && p.Server == g.Server && p.Seq >= g.Seq {
			return true, read, nil
		}
	}
	return false, read, nil
}
