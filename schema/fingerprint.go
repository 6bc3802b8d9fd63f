package schema

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// Querier reads the catalog for Fingerprint: a *sql.Conn, so that the
// session's temporary tables are seen as its statements see them.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Print is the state, on a server, of the catalog objects a DDL statement
// may change (DDLObjects): taken before the statement runs and again after
// a crash, it tells whether the statement ran (DDL commits on its own, so
// no checkpoint can be written with it).
type Print struct {
	// Digest is a hash of the objects' definitions (SHOW CREATE, the
	// catalog's rows for them) and, for InnoDB tables, of their identity
	// (table id), so that tables renamed into each other's places differ.
	Digest string
	// Ambiguous, when set, says why the statement could run without
	// changing Digest: tables of the same definition renamed into each
	// other's places, replaced by CREATE OR REPLACE, or a partition
	// exchanged with a table, whose identity the server does not show
	// (not InnoDB, or a name InnoDB encodes in a way not handled here).
	// Comparing digests then cannot tell whether it ran.
	Ambiguous string
}

// DigestVersion begins every Digest. A digest taken by another version,
// which read the objects otherwise (before 2026-12-06: one InnoDB id per
// partitioned table, and not the table a partition is exchanged with;
// before 2026-12-07: SHOW CREATE in the session's sql_mode, which
// ANSI_QUOTES or ORACLE change), cannot be compared with this version's.
const DigestVersion = "fp3:"

// Server errors Fingerprint takes as "the object does not exist".
const (
	errBadDB          = 1049
	errNoSuchTable    = 1146
	errUnknownTableIS = 1109 // unknown table in information_schema (MariaDB and MySQL name it differently)
)

// Fingerprint returns the Print of the objects that the DDL statement sql,
// run with default database defaultDB, may change, read through q.
//
// The objects are read in the same session settings whatever the
// session's (sql_mode and sql_quote_show_create, which change SHOW
// CREATE's text: a print taken before a DDL by a session running the
// source's sql_mode and one taken after a crash by a new session in the
// server's ORACLE mode differed, and the DDL was taken as run); q's are
// set back before it returns.
func Fingerprint(ctx context.Context, q Querier, sql []byte, defaultDB string) (p Print, err error) {
	var mode string
	var quote int
	if err := q.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.sql_quote_show_create").Scan(&mode, &quote); err != nil {
		return Print{}, fmt.Errorf("fingerprint: read the session's settings: %w", err)
	}
	if _, err := q.ExecContext(ctx, "SET SESSION sql_mode = '', sql_quote_show_create = 1"); err != nil {
		return Print{}, fmt.Errorf("fingerprint: set the session's settings: %w", err)
	}
	defer func() {
		if _, rerr := q.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_mode = ?, sql_quote_show_create = ?", mode, quote); rerr != nil && err == nil {
			err = fmt.Errorf("fingerprint: set the session's settings back: %w", rerr)
		}
	}()
	fp := &fingerprinter{ctx: ctx, q: q, h: sha256.New(), defs: map[Name]tableDef{}}
	objs := dedupe(DDLObjects(sql, defaultDB))
	for _, o := range objs {
		fp.write("object", o.String())
		if err := fp.object(o); err != nil {
			return Print{}, fmt.Errorf("fingerprint %s: %w", o, err)
		}
	}
	p = Print{Digest: DigestVersion + hex.EncodeToString(fp.h.Sum(nil))}
	p.Ambiguous = fp.ambiguity(sql, objs)
	return p, nil
}

func dedupe(objs []Object) []Object {
	seen := map[Object]bool{}
	out := objs[:0:0]
	for _, o := range objs {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

// tableDef is what Fingerprint saw of a table: its definition without its
// name, and its identity ("" when the server does not show one).
type tableDef struct {
	exists   bool
	def      string
	identity string
}

type fingerprinter struct {
	ctx  context.Context
	q    Querier
	h    hash.Hash
	defs map[Name]tableDef
	// innodbTables is the information_schema table of InnoDB's
	// dictionary ("" until found, "-" when none can be read).
	innodbTables string
}

// write adds length-prefixed values to the digest.
func (fp *fingerprinter) write(values ...string) {
	var n [8]byte
	for _, v := range values {
		binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
		fp.h.Write(n[:])
		fp.h.Write([]byte(v))
	}
}

func (fp *fingerprinter) object(o Object) error {
	switch o.Kind {
	case ObjTable:
		return fp.table(Name{Schema: o.Schema, Table: o.Name})
	case ObjDatabase:
		err := fp.rows("SHOW CREATE DATABASE " + quoteIdent(o.Name))
		if isError(err, errBadDB) {
			fp.write("absent")
			return nil
		}
		if err != nil {
			return err
		}
		return fp.rows("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", o.Name)
	case ObjRoutine:
		return fp.rows(`SELECT ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_DATA_ACCESS,
			SECURITY_TYPE, CREATED, LAST_ALTERED, SQL_MODE, ROUTINE_COMMENT, DEFINER
			FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ? ORDER BY ROUTINE_TYPE`, o.Schema, o.Name)
	case ObjTrigger:
		return fp.rows(`SELECT EVENT_MANIPULATION, EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, ACTION_ORDER, ACTION_STATEMENT,
			ACTION_TIMING, CREATED, SQL_MODE, DEFINER
			FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?`, o.Schema, o.Name)
	case ObjEvent:
		return fp.rows(`SELECT EVENT_DEFINITION, EVENT_TYPE, EXECUTE_AT, INTERVAL_VALUE, INTERVAL_FIELD, SQL_MODE,
			STARTS, ENDS, STATUS, ON_COMPLETION, CREATED, LAST_ALTERED, EVENT_COMMENT, DEFINER
			FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?`, o.Schema, o.Name)
	case ObjAccounts:
		return fp.accounts()
	case ObjServers:
		return fp.optionalRows("SELECT * FROM mysql.servers ORDER BY 1")
	case ObjPlugins:
		return fp.rows("SELECT PLUGIN_NAME, PLUGIN_STATUS, PLUGIN_LIBRARY FROM information_schema.PLUGINS ORDER BY PLUGIN_NAME")
	}
	return fp.everything()
}

// systemSchemas are left out of a whole-catalog fingerprint: the replay's
// own checkpoint changes in binlog_replay.
const systemSchemas = "'mysql', 'information_schema', 'performance_schema', 'sys', 'binlog_replay'"

// everything reads what the whole catalog holds, for a statement whose
// objects are not known.
func (fp *fingerprinter) everything() error {
	for _, q := range []string{
		"SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA " +
			"WHERE SCHEMA_NAME NOT IN (" + systemSchemas + ") ORDER BY 1",
		"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES " +
			"WHERE TABLE_SCHEMA NOT IN (" + systemSchemas + ") ORDER BY 1, 2",
		"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT " +
			"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN (" + systemSchemas + ") ORDER BY 1, 2, 4",
		"SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS " +
			"WHERE TABLE_SCHEMA NOT IN (" + systemSchemas + ") ORDER BY 1, 2, 3, 4",
		"SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, CREATED, LAST_ALTERED FROM information_schema.ROUTINES ORDER BY 1, 2, 3",
		"SELECT TRIGGER_SCHEMA, TRIGGER_NAME, CREATED FROM information_schema.TRIGGERS ORDER BY 1, 2",
		"SELECT EVENT_SCHEMA, EVENT_NAME, CREATED, LAST_ALTERED FROM information_schema.EVENTS ORDER BY 1, 2",
		"SELECT PLUGIN_NAME, PLUGIN_STATUS FROM information_schema.PLUGINS ORDER BY 1",
	} {
		if err := fp.rows(q); err != nil {
			return err
		}
	}
	if err := fp.optionalRows("SELECT * FROM mysql.servers ORDER BY 1"); err != nil {
		return err
	}
	return fp.accounts()
}

// accounts reads every user, role and privilege.
func (fp *fingerprinter) accounts() error {
	for _, t := range []string{"user", "db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv",
		"roles_mapping", "role_edges", "default_roles", "global_grants"} {
		if err := fp.optionalRows("SELECT * FROM mysql." + t + " ORDER BY 1, 2"); err != nil {
			return err
		}
	}
	return nil
}

// optionalRows is rows, for a table that a flavor or version may lack.
func (fp *fingerprinter) optionalRows(query string) error {
	err := fp.rows(query)
	if isError(err, errNoSuchTable) {
		fp.write("absent")
		return nil
	}
	return err
}

// rows adds every value of query's rows to the digest.
func (fp *fingerprinter) rows(query string, args ...any) error {
	_, err := fp.collect(query, args...)
	return err
}

// collect adds every value of query's rows to the digest and returns them.
func (fp *fingerprinter) collect(query string, args ...any) ([][]string, error) {
	rows, err := fp.q.QueryContext(fp.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "\x00NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		fp.write(row...)
		out = append(out, row)
	}
	fp.write("end")
	return out, rows.Err()
}

var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

// table adds a table's (or view's) definition and identity.
func (fp *fingerprinter) table(n Name) error {
	rows, err := fp.q.QueryContext(fp.ctx, "SHOW CREATE TABLE "+quoteName(n.Schema, n.Table))
	if isError(err, errNoSuchTable, errBadDB) {
		fp.write("absent")
		fp.defs[n] = tableDef{}
		return nil
	}
	var def string
	if err == nil {
		def, err = secondColumn(rows)
	}
	if err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) {
			return err
		}
		// A view over a dropped table, say: its state is the error.
		def = fmt.Sprintf("error %d", me.Number)
	}
	// The counter changes with the rows, and after a restart of some
	// servers: not part of the definition.
	def = autoIncrement.ReplaceAllString(def, "")
	def = strings.Replace(def, quoteIdent(n.Table), "", 1)
	id, err := fp.identity(n)
	if err != nil {
		return err
	}
	fp.write(def, id)
	fp.defs[n] = tableDef{exists: true, def: def, identity: id}
	return nil
}

// secondColumn returns the second column of the only row of rows (SHOW
// CREATE TABLE's statement), and closes rows.
func secondColumn(rows *sql.Rows) (string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "", errors.New("SHOW CREATE TABLE returned no row")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", err
	}
	if len(vals) < 2 {
		return "", fmt.Errorf("SHOW CREATE TABLE returned %d columns", len(vals))
	}
	return vals[1].String, rows.Err()
}

// identity returns the InnoDB table ids of n (of each of its partitions,
// by partition name), or "" when it has none or they cannot be read: not
// InnoDB, no PROCESS privilege, or a name whose file-name encoding is not
// handled. A partition's id changes when ALTER TABLE ... EXCHANGE or
// TRUNCATE PARTITION runs, which leave the definition as it was.
func (fp *fingerprinter) identity(n Name) (string, error) {
	name, ok := innodbName(n)
	if !ok || fp.innodbTables == "-" {
		return "", nil
	}
	tables := []string{fp.innodbTables}
	if fp.innodbTables == "" {
		tables = []string{"INNODB_SYS_TABLES", "INNODB_TABLES"} // MariaDB and MySQL 5.7, MySQL 8
	}
	for _, t := range tables {
		// Partitions are named table#P#p (MariaDB, MySQL 5.7) or
		// table#p#p (MySQL 8).
		rows, err := fp.q.QueryContext(fp.ctx, "SELECT NAME, TABLE_ID FROM information_schema."+t+
			" WHERE NAME = ? OR (NAME > ? AND NAME < ?) OR (NAME > ? AND NAME < ?) ORDER BY NAME",
			name, name+"#P#", name+"#P$", name+"#p#", name+"#p$")
		if isError(err, errUnknownTableIS) {
			continue
		}
		if isServerError(err) { // no PROCESS privilege, say
			break
		}
		if err != nil {
			return "", err
		}
		fp.innodbTables = t
		var ids []string
		for rows.Next() {
			var part, id string
			if err := rows.Scan(&part, &id); err != nil {
				rows.Close()
				return "", err
			}
			if len(part) >= len(name) {
				part = part[len(name):] // the table's name is not part of its identity
			}
			ids = append(ids, part+"="+id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			return "", nil
		}
		return "innodb " + strings.Join(ids, ","), nil
	}
	fp.innodbTables = "-"
	return "", nil
}

// innodbName returns the name InnoDB's dictionary gives n, "schema/table"
// in the server's file-name encoding, for names of ASCII characters; false
// for others.
func innodbName(n Name) (string, bool) {
	enc := func(s string) (string, bool) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= 0x80:
				return "", false
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "@%04x", c)
			}
		}
		return b.String(), true
	}
	db, ok1 := enc(n.Schema)
	t, ok2 := enc(n.Table)
	return db + "/" + t, ok1 && ok2
}

// ambiguity says why the statement could run without changing the digest,
// from the tables seen (see Print.Ambiguous).
func (fp *fingerprinter) ambiguity(sql []byte, objs []Object) string {
	toks := sqlscan.Tokens(sql, 0)
	renames := len(toks) > 0 && toks[0].Is("RENAME")
	if len(toks) > 0 && toks[0].Is("ALTER") {
		for _, t := range toks {
			if t.Depth == 0 && t.Is("RENAME") {
				renames = true
			}
		}
	}
	var names []Name
	for n, d := range fp.defs {
		if d.exists && d.identity == "" {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b Name) int { return strings.Compare(a.Schema+"."+a.Table, b.Schema+"."+b.Table) })
	if renames {
		for i, a := range names {
			for _, b := range names[i+1:] {
				if fp.defs[a].def == fp.defs[b].def {
					return fmt.Sprintf("tables %s.%s and %s.%s have the same definition and no identity the server shows: "+
						"renaming one into the other's place does not show", a.Schema, a.Table, b.Schema, b.Table)
				}
			}
		}
	}
	if alterHas(sql, "EXCHANGE", "PARTITION") && len(names) > 0 {
		return fmt.Sprintf("EXCHANGE PARTITION swaps rows with table %s.%s, which has no identity the server shows: "+
			"the tables do not look different after it", names[0].Schema, names[0].Table)
	}
	if IsCreateOrReplace(sql) && len(names) > 0 {
		return fmt.Sprintf("CREATE OR REPLACE replaces table %s.%s, which has no identity the server shows: "+
			"the new table may not look different", names[0].Schema, names[0].Table)
	}
	return ""
}

func isError(err error, codes ...uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && slices.Contains(codes, me.Number)
}

func isServerError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}
