package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Collation is a collation the target knows.
type Collation struct {
	ID            uint16
	Name, Charset string
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
	byID map[uint16]Collation
	// standIns maps a MySQL 8 id the target lacks to the target's
	// default collation of its character set.
	standIns map[uint16]Collation
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
	var all []Collation
	defaults := map[string]Collation{}
	for rows.Next() {
		var c Collation
		var isDefault string
		if err := rows.Scan(&c.ID, &c.Name, &c.Charset, &isDefault); err != nil {
			return nil, fmt.Errorf("read collations: %w", err)
		}
		all = append(all, c)
		if isDefault == "Yes" {
			defaults[c.Charset] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collations: %w", err)
	}
	return NewCollations(all, defaults, logf), nil
}

// NewCollations indexes the target's collations and works out the
// stand-ins from its default collation of each character set.
func NewCollations(all []Collation, defaults map[string]Collation, logf func(string, ...any)) *Collations {
	c := &Collations{byID: map[uint16]Collation{}, standIns: map[uint16]Collation{}, logf: logf, told: map[uint16]bool{}}
	for _, x := range all {
		c.byID[x.ID] = x
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

// Lookup returns the target's collation for id, or its stand-in (none
// when c is nil).
func (c *Collations) Lookup(id uint16) (Collation, bool) {
	if c == nil {
		return Collation{}, false
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

// SessionID returns the id to set in the session for id: id itself, its
// stand-in, or, when the target knows neither, id (which the target then
// refuses, naming it).
func (c *Collations) SessionID(id uint16) uint16 {
	if x, ok := c.Lookup(id); ok {
		return x.ID
	}
	return id
}

// tell logs the first use of a stand-in.
func (c *Collations) tell(id uint16, x Collation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.told[id] || c.logf == nil {
		return
	}
	c.told[id] = true
	c.logf("collation id %d (a MySQL 8 %s collation) is unknown to the target: statements logged with it run with %s, the target's default for %s",
		id, x.Charset, x.Name, x.Charset)
}
