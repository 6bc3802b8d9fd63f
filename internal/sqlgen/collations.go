package sqlgen

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// collation is a collation the target knows.
type collation struct {
	id            uint16
	name, charset string
}

// Collations are the target's collations by id, read once, with stand-ins
// for the MySQL 8 collations a MariaDB target lacks.
//
// MySQL 8 logs its default collation utf8mb4_0900_ai_ci (id 255) and the
// other 0900 collations (ids 255 to 323, all utf8mb4; 76 is
// utf8mb3_tolower_ci) in the session context of every statement. A
// MariaDB target refuses them ("Unknown collation: '255'"), and
// mariadb-binlog drops the whole SET, so that the statement runs in the
// client's character set. The replay keeps the character set and uses the
// target's default collation of it instead, and says so once per id.
// Columns keep their own collations: the session's matters for string
// literals and for the default collation of CREATE DATABASE/TABLE without
// one.
type Collations struct {
	byID map[uint16]collation
	// standIns maps a MySQL 8 id the target lacks to the target's
	// default collation of its character set.
	standIns map[uint16]collation
	logf     func(format string, args ...any)

	mu   sync.Mutex
	told map[uint16]bool
}

// mysql8Charset returns the character set of a MySQL 8 collation id that
// MariaDB lacks, or "".
func mysql8Charset(id uint16) string {
	switch {
	case id >= 255 && id <= 323:
		return "utf8mb4"
	case id == 76:
		return "utf8mb3"
	}
	return ""
}

// LoadCollations reads the target's collations; logf tells when a stand-in
// is first used.
func LoadCollations(ctx context.Context, db *sql.DB, logf func(string, ...any)) (*Collations, error) {
	rows, err := db.QueryContext(ctx, "SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME, IS_DEFAULT FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	defer rows.Close()
	var all []collation
	defaults := map[string]collation{}
	for rows.Next() {
		var c collation
		var isDefault string
		if err := rows.Scan(&c.id, &c.name, &c.charset, &isDefault); err != nil {
			return nil, fmt.Errorf("read collations: %w", err)
		}
		all = append(all, c)
		if isDefault == "Yes" {
			defaults[c.charset] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	return newCollations(all, defaults, logf), nil
}

// newCollations indexes the target's collations and works out the
// stand-ins from its default collation of each character set.
func newCollations(all []collation, defaults map[string]collation, logf func(string, ...any)) *Collations {
	c := &Collations{byID: map[uint16]collation{}, standIns: map[uint16]collation{}, logf: logf, told: map[uint16]bool{}}
	for _, x := range all {
		c.byID[x.id] = x
	}
	for id := uint16(1); id <= 323; id++ {
		if _, ok := c.byID[id]; ok {
			continue
		}
		if d, ok := defaults[mysql8Charset(id)]; ok {
			c.standIns[id] = d
		}
	}
	return c
}

// lookup returns the target's collation for id, or its stand-in (none
// when c is nil).
func (c *Collations) lookup(id uint16) (collation, bool) {
	if c == nil {
		return collation{}, false
	}
	if x, ok := c.byID[id]; ok {
		return x, true
	}
	x, ok := c.standIns[id]
	if ok {
		c.tell(id, x)
	}
	return x, ok
}

// sessionID returns the id to set in the session for id: id itself, its
// stand-in, or, when the target knows neither, id (which the target then
// refuses, naming it).
func (c *Collations) sessionID(id uint16) uint16 {
	if x, ok := c.lookup(id); ok {
		return x.id
	}
	return id
}

// tell logs the first use of a stand-in.
func (c *Collations) tell(id uint16, x collation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.told[id] || c.logf == nil {
		return
	}
	c.told[id] = true
	c.logf("collation id %d (a MySQL 8 %s collation) is unknown to the target: statements logged with it run with %s, the target's default for %s",
		id, x.charset, x.name, x.charset)
}
