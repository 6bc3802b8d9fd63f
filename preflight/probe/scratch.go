package probe

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

// DefaultScratchSchema is the database the probe creates on the target
// for its tables, and drops afterwards.
const DefaultScratchSchema = "binlog_replay_preflight"

// fallbackSchema holds the probe's tables (named preflight_*) when the
// account may not create the scratch database: the replay's account has
// every privilege on it.
const fallbackSchema = target.CheckpointSchema

// errBinlogOn is returned when the target's binlog is on and the probe
// cannot keep its writes out of it.
var errBinlogOn = errors.New("the target's binlog is on and this account may not set sql_log_bin=0 (BINLOG ADMIN or SUPER): " +
	"the probe's writes would be logged on the target with GTIDs of its own, ahead of the source's, so it did not write")

// Scratch is the probe's place on the target: a schema of its own (or
// tables with a prefix in the replay's schema), dropped by Drop.
type Scratch struct {
	db     *sql.DB
	Schema string
	prefix string
	// createdSchema is set when drop must drop the schema (it made it).
	createdSchema bool
	// unlog is set when the target's binlog is on: every session of the
	// probe sets sql_log_bin=0 first.
	unlog  bool
	token  string
	tables []string
}

// NewScratch creates the scratch schema (or finds the fallback) and
// checks that the probe's sessions can keep out of the target's binlog.
func NewScratch(ctx context.Context, db *sql.DB, schema string, binlogOn bool) (*Scratch, error) {
	tok := make([]byte, 4)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("scratch name: %w", err)
	}
	s := &Scratch{db: db, Schema: schema, prefix: "pf_", unlog: binlogOn, token: hex.EncodeToString(tok)}
	conn, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := s.clearLeftover(ctx, conn); err != nil {
		return nil, err
	}
	_, err = conn.ExecContext(ctx, "CREATE DATABASE "+sqlgen.QuoteIdent(schema))
	switch {
	case err == nil:
		s.createdSchema = true
		return s, nil
	case errorNumber(err) != 1044 && errorNumber(err) != 1227:
		return nil, fmt.Errorf("create the scratch schema %s on the target: %w", schema, err)
	}
	// No CREATE on the scratch schema: use the replay's own, which its
	// account must be able to create and write.
	s.Schema, s.prefix = fallbackSchema, "preflight_"
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE schema_name = ?", fallbackSchema).Scan(&n); err != nil {
		return nil, fmt.Errorf("look for the %s schema on the target: %w", fallbackSchema, err)
	}
	if n == 0 {
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+sqlgen.QuoteIdent(fallbackSchema)); err != nil {
			return nil, fmt.Errorf("the account may create neither %s nor %s on the target, where the probe writes: %w", schema, fallbackSchema, err)
		}
		s.createdSchema = true
	}
	return s, nil
}

// clearLeftover drops what an earlier probe killed before its clean-up
// left behind: the scratch schema, when it holds only probe tables.
func (s *Scratch) clearLeftover(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT table_name FROM information_schema.TABLES WHERE table_schema = ?", s.Schema)
	if err != nil {
		return fmt.Errorf("look for a leftover scratch schema: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("look for a leftover scratch schema: %w", err)
		}
		names = append(names, n)
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("look for a leftover scratch schema: %w", err)
	}
	var exists int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE schema_name = ?", s.Schema).Scan(&exists); err != nil {
		return fmt.Errorf("look for a leftover scratch schema: %w", err)
	}
	if exists == 0 {
		return nil
	}
	for _, n := range names {
		if !strings.HasPrefix(n, s.prefix) {
			return fmt.Errorf("the target has a database %s holding a table %s that the probe did not make: "+
				"give another --scratch-schema", s.Schema, n)
		}
	}
	if _, err := conn.ExecContext(ctx, "DROP DATABASE "+sqlgen.QuoteIdent(s.Schema)); err != nil {
		return fmt.Errorf("drop the scratch schema an earlier probe left: %w", err)
	}
	return nil
}

// conn returns a session for the probe, kept out of the target's binlog
// when it is on.
func (s *Scratch) conn(ctx context.Context) (*sql.Conn, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	if s.unlog {
		if _, err := c.ExecContext(ctx, "SET SESSION sql_log_bin=0"); err != nil {
			c.Close()
			if n := errorNumber(err); n == 1227 || n == 1044 || n == 1045 {
				return nil, errBinlogOn
			}
			return nil, fmt.Errorf("set sql_log_bin=0 on a probe session: %w", err)
		}
	}
	return c, nil
}

// table returns the qualified and the bare name of the probe's table
// base, and records it for drop.
func (s *Scratch) table(base string) (qualified, bare string) {
	bare = s.prefix + base + "_" + s.token
	s.tables = append(s.tables, bare)
	return sqlgen.QuoteIdent(s.Schema) + "." + sqlgen.QuoteIdent(bare), bare
}

// localFile reports whether the table table (a name returned by name,
// unquoted) has its file under datadir on this machine: the target is then
// local, and its datadir's filesystem can be looked at.
func (s *Scratch) localFile(datadir, table string) bool {
	if datadir == "" {
		return false
	}
	for _, ext := range []string{".ibd", ".frm"} {
		if _, err := os.Stat(filepath.Join(datadir, s.Schema, table+ext)); err == nil {
			return true
		}
	}
	return false
}

// Drop removes the probe's tables and the schema it created, even after
// ctx has ended (within 30 s).
func (s *Scratch) Drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.createdSchema {
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlgen.QuoteIdent(s.Schema)); err != nil {
			return fmt.Errorf("drop the scratch schema %s: %w", s.Schema, err)
		}
		return nil
	}
	for _, t := range s.tables {
		if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+sqlgen.QuoteIdent(s.Schema)+"."+sqlgen.QuoteIdent(t)); err != nil {
			return fmt.Errorf("drop the scratch table %s.%s: %w", s.Schema, t, err)
		}
	}
	return nil
}
