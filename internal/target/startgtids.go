package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// StartGTIDs reads the GTID set the target already holds (replay's
// --start-gtid target): MySQL's @@gtid_executed; MariaDB's, per domain,
// the furthest of gtid_slave_pos (as set from a base backup's GTID) and
// the GTIDs of other server ids than its own in gtid_binlog_state (the
// source's, which an earlier replay logged keeping them: gtid_current_pos
// leaves those out).
//
// A MariaDB position is a sequence number per domain, whatever the server
// id: a domain the target holds only GTIDs of its own in (say a CREATE
// USER after the restore with its binlog on) cannot say which source
// transactions it holds, so it is refused.
func (t *Target) StartGTIDs(ctx context.Context) (txn.GTIDSet, error) {
	var pos string
	var err error
	if t.mariadb {
		pos, err = t.mariadbStart(ctx)
	} else {
		pos, _, err = t.gtidPosition(ctx)
	}
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
	t.logf("start GTID set read from the target: %s", pos)
	return set, nil
}

// mariadbStart returns a MariaDB target's start position (see
// StartGTIDs): per domain the GTID of the highest sequence number in
// gtid_slave_pos and, of other server ids than the target's, in
// gtid_binlog_state; an error for a domain it holds GTIDs of its own
// server id in only.
func (t *Target) mariadbStart(ctx context.Context) (string, error) {
	var slave, state string
	var serverID uint32
	if err := t.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos, @@GLOBAL.gtid_binlog_state, @@server_id").
		Scan(&slave, &state, &serverID); err != nil {
		return "", fmt.Errorf("read the target's GTID state: %w", err)
	}
	best, own := map[uint32]txn.GTID{}, map[uint32]txn.GTID{}
	keep := func(m map[uint32]txn.GTID, g txn.GTID) {
		if cur, ok := m[g.Domain]; !ok || g.Seq > cur.Seq {
			m[g.Domain] = g
		}
	}
	for _, part := range strings.Split(slave+","+state, ",") {
		g, err := txn.ParseGTID(strings.TrimSpace(part))
		switch {
		case err != nil:
		case g.Server == serverID:
			keep(own, g)
		default:
			keep(best, g)
		}
	}
	for d, g := range own {
		if _, ok := best[d]; !ok {
			return "", fmt.Errorf("the target's GTIDs in domain %d, up to %s, were written by the target itself "+
				"(server_id %d), not by the source: they cannot say which source transactions the target holds; "+
				"set gtid_slave_pos from the base backup and keep the target's own writes out of that domain, "+
				"or give --start-gtid SET", d, g, serverID)
		}
	}
	parts := make([]string, 0, len(best))
	for _, g := range best {
		parts = append(parts, g.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ","), nil
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
