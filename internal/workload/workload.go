// Package workload generates deterministic database workloads on a MariaDB
// or MySQL source: a base (Setup) taken before the replay starts, then a
// workload phase (Run) whose changes the binary log records. Each Profile
// exercises one family of replay hazards (types, unique keys moving between
// rows, foreign-key cascades, DDL, triggers, big transactions, ...).
//
// Every value comes from math/rand/v2 generators seeded from Options.Seed:
// Setup uses one stream, and each Run session its own stream derived from the
// seed and the session number. Unless Options.RealClock is set, each unit of
// work runs with a fixed @@timestamp, so NOW() and CURRENT_TIMESTAMP columns
// are deterministic too: two fresh servers given the same Options end with
// identical tables (CHECKSUM TABLE) when Threads is 1.
package workload

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"

	"golang.org/x/sync/errgroup"
)

// Profile names a workload.
type Profile string

// The workload profiles.
const (
	// Types has one table per type family holding every column type at its
	// limits, zero dates, NULLs, generated and invisible columns.
	Types Profile = "types"
	// OLTP is sysbench oltp_write_only: per transaction an index update, a
	// non-index update, a delete and an insert of the same id, every id
	// drawn uniformly (sysbench --rand-type=uniform, the default of
	// sysbench 1.1).
	OLTP Profile = "oltp"
	// OLTPSpecial is OLTP with ids drawn from sysbench 1.0's default
	// distribution (--rand-type=special): three writes in four go to under
	// 1% of the rows, the rest spread around the middle of the table.
	OLTPSpecial Profile = "oltp-special"
	// HotRows is OLTP on one small table where most transactions touch the
	// same few rows.
	HotRows Profile = "hot"
	// UniqueChurn moves unique values between rows, updates primary keys,
	// changes letter case under a case-insensitive collation and shuffles
	// NULLs in unique keys.
	UniqueChurn Profile = "unique"
	// ForeignKeys writes parents and children with ON DELETE/UPDATE CASCADE,
	// deletes parents that have children, and runs some transactions with
	// foreign_key_checks=0.
	ForeignKeys Profile = "fk"
	// DDL interleaves DML with ALTER TABLE, RENAME, CREATE/DROP TABLE,
	// CREATE INDEX, TRUNCATE and temporary tables.
	DDL Profile = "ddl"
	// NoPK writes tables without a primary key holding duplicate rows.
	NoPK Profile = "nopk"
	// Triggers writes tables whose AFTER triggers fill an audit table.
	Triggers Profile = "triggers"
	// BigTxn runs one transaction of at least Scale*500 inserted rows (100k
	// at the default Scale) plus a big UPDATE and a big DELETE.
	BigTxn Profile = "bigtxn"
	// Charset writes emoji, latin1 bytes, binary strings with quotes,
	// backslashes and NUL bytes, under odd identifiers.
	Charset Profile = "charset"
	// GapLocks deletes ranges and inserts into gaps of a secondary index.
	GapLocks Profile = "gaplocks"
)

// Profiles returns every profile, in a fixed order.
func Profiles() []Profile {
	return []Profile{Types, OLTP, OLTPSpecial, HotRows, UniqueChurn, ForeignKeys, DDL,
		NoPK, Triggers, BigTxn, Charset, GapLocks}
}

// Binlog formats Options.Format accepts.
const (
	FormatRow       = "ROW"
	FormatMixed     = "MIXED"
	FormatStatement = "STATEMENT"
)

// Options configures Setup and Run. Give both the same Profile, Schema,
// Seed, Scale and Tables (the only fields Setup reads): Run rebuilds what
// Setup wrote from the seed instead of reading it back.
type Options struct {
	// Profile selects the workload.
	Profile Profile
	// Schema is the database Setup (re)creates and both use; default
	// "wl_<profile>".
	Schema string
	// Seed seeds every random generator.
	Seed int64
	// Scale is the number of base rows per table (default 200).
	Scale int
	// Txns is the number of transactions Run executes over all sessions
	// (default 300). A transaction may be several autocommit statements.
	Txns int
	// Threads is the number of concurrent sessions in Run (default 1). With
	// more than one the binlog order is whatever the server logged and the
	// result is no longer deterministic.
	Threads int
	// Tables is the number of tables for OLTP and OLTPSpecial (default 4)
	// and HotRows (default 1); other profiles ignore it.
	Tables int
	// Format is the source's binlog format: "ROW", "MIXED" or "STATEMENT".
	// With "STATEMENT" Run avoids statements that are unsafe to log as text
	// (LIMIT without ORDER BY, UUID()). Empty means the session's
	// @@binlog_format. Setup does not depend on it.
	Format string
	// RealClock runs Run with the server's clock instead of a fixed
	// @@timestamp per unit of work, and allows RAND() without a seed and, in
	// ROW and MIXED formats, UUID(). Run's results then differ from run to
	// run. Setup always uses the fixed clock, so that a replay target can be
	// prepared by running Setup on it.
	RealClock bool
}

// Defaults for Options.
const (
	DefaultScale = 200
	DefaultTxns  = 300
)

// Validate reports an error for an unknown profile or format, or a negative
// count.
func (o Options) Validate() error {
	if _, ok := generators[o.Profile]; !ok {
		return fmt.Errorf("validate workload options: unknown profile %q", o.Profile)
	}
	switch strings.ToUpper(o.Format) {
	case "", FormatRow, FormatMixed, FormatStatement:
	default:
		return fmt.Errorf("validate workload options: unknown binlog format %q", o.Format)
	}
	if o.Scale < 0 || o.Txns < 0 || o.Threads < 0 || o.Tables < 0 {
		return fmt.Errorf("validate workload options: negative Scale, Txns, Threads or Tables")
	}
	return nil
}

// withDefaults fills in the zero fields except Format.
func (o Options) withDefaults() Options {
	if o.Schema == "" {
		o.Schema = "wl_" + string(o.Profile)
	}
	if o.Scale == 0 {
		o.Scale = DefaultScale
	}
	if o.Txns == 0 {
		o.Txns = DefaultTxns
	}
	if o.Threads == 0 {
		o.Threads = 1
	}
	if o.Tables == 0 {
		o.Tables = 4
		if o.Profile == HotRows {
			o.Tables = 1
		}
	}
	o.Format = strings.ToUpper(o.Format)
	return o
}

// safeOnly reports whether Run must avoid statements that are unsafe in
// statement-based logging.
func (o Options) safeOnly() bool { return o.Format == FormatStatement }

// generator builds the statements of one profile. setup returns the base
// (tables and rows) and records in the generator what it holds; session
// returns the source of session s's transactions, owning the part of that
// record that belongs to s. Neither touches a server.
type generator interface {
	setup(r *rand.Rand) []unit.Unit
	session(s int, r *rand.Rand) txnSource
}

// stateless is implemented by generators whose sessions do not use what
// setup recorded; Run then skips rebuilding it (costly at large Scale).
type stateless interface{ stateless() }

// txnSource returns the units of transaction i (a global index: session s
// of n gets i = s, s+n, s+2n, ...).
type txnSource interface {
	next(i int) []unit.Unit
}

// generators maps each profile to its constructor.
var generators = map[Profile]func(o Options) generator{
	Types:       newTypesGen,
	OLTP:        newOLTPGen,
	OLTPSpecial: newOLTPGen,
	HotRows:     newOLTPGen,
	UniqueChurn: newUniqueGen,
	ForeignKeys: newFKGen,
	DDL:         newDDLGen,
	NoPK:        newNoPKGen,
	Triggers:    newTriggersGen,
	BigTxn:      newBigGen,
	Charset:     newCharsetGen,
	GapLocks:    newGapGen,
}

// newRand returns the generator of stream (0 for Setup, s+1 for session s).
func newRand(seed int64, stream int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(stream)*0x9E3779B97F4A7C15+1))
}

// Setup drops and recreates opts.Schema and fills it with the profile's
// base tables and rows, in one session. It stops at the first error (or when
// ctx is cancelled) and returns it wrapped with the statement that failed;
// the schema is then partly built.
func Setup(ctx context.Context, db *sql.DB, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	o := opts.withDefaults()
	g := generators[o.Profile](o)
	units := g.setup(newRand(o.Seed, 0))
	s, err := unit.Open(ctx, db, o.RealClock, -1)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + sqlvals.Ident(o.Schema),
		"CREATE DATABASE " + sqlvals.Ident(o.Schema) + " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
		"USE " + sqlvals.Ident(o.Schema),
	} {
		if err := s.Exec(ctx, q); err != nil {
			return fmt.Errorf("set up %s: %w", o.Profile, err)
		}
	}
	for j, u := range units {
		if err := s.Apply(ctx, u, unit.SetupEpoch, j); err != nil {
			return fmt.Errorf("set up %s: %w", o.Profile, err)
		}
	}
	return nil
}

// Run executes the profile's workload phase: opts.Txns transactions over
// opts.Threads sessions, each on its own connection. The first error stops
// every session (lock waits and deadlocks are retried first) and is returned
// wrapped with the session, transaction and statement; committed work stays.
// Cancelling ctx stops Run the same way.
func Run(ctx context.Context, db *sql.DB, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	o := opts.withDefaults()
	if o.Format == "" {
		f, err := serverFormat(ctx, db)
		if err != nil {
			return err
		}
		o.Format = f
	}
	g := generators[o.Profile](o)
	if _, ok := g.(stateless); !ok {
		g.setup(newRand(o.Seed, 0))
	}
	eg, ctx := errgroup.WithContext(ctx)
	for s := 0; s < o.Threads; s++ {
		src := g.session(s, newRand(o.Seed, s+1))
		eg.Go(func() error { return runSession(ctx, db, o, s, src) })
	}
	return eg.Wait()
}

// runSession runs session s's share of the transactions.
func runSession(ctx context.Context, db *sql.DB, o Options, s int, src txnSource) error {
	sess, err := unit.Open(ctx, db, o.RealClock, s)
	if err != nil {
		return err
	}
	defer sess.Close()
	if err := sess.Exec(ctx, "USE "+sqlvals.Ident(o.Schema)); err != nil {
		return fmt.Errorf("run %s session %d: %w", o.Profile, s, err)
	}
	for i := s; i < o.Txns; i += o.Threads {
		for j, u := range src.next(i) {
			if err := sess.Apply(ctx, u, unit.RunEpoch+int64(i), j); err != nil {
				return fmt.Errorf("run %s session %d txn %d: %w", o.Profile, s, i, err)
			}
		}
	}
	return nil
}

// TxnTimestamp returns the @@timestamp Run gives the first unit of
// transaction i when Options.RealClock is false (later units of the same
// transaction run a few milliseconds after it). It is the time binlog
// events of that transaction carry, and what NOW() returns in it. Setup runs
// a day earlier, at 2024-03-01 00:00:00 UTC.
func TxnTimestamp(i int) time.Time {
	sec, micros := unit.FixedClock(unit.RunEpoch+int64(i), 0)
	return time.Unix(sec, micros*1000).UTC()
}

// serverFormat returns the session binlog format of a connection from db.
func serverFormat(ctx context.Context, db *sql.DB) (string, error) {
	var f string
	if err := db.QueryRowContext(ctx, "SELECT @@SESSION.binlog_format").Scan(&f); err != nil {
		return "", fmt.Errorf("read binlog_format: %w", err)
	}
	return strings.ToUpper(f), nil
}
