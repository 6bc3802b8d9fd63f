package replay

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/rewrite"
)

// What --databases and --tables need from the target before anything is
// applied: its foreign keys that cascade across them (refused), and, with
// --tables, the other tables of their databases and the bodies of the
// triggers and routines there (for the rewriter, which applies the
// filters to statements).

// checkFilterForeignKeys refuses, with --databases or --tables, a
// foreign key of the target that cascades across what the filters keep.
// A cascade is not in the binlog (in row format the source logs the
// parent's change alone, and its replica's own foreign key makes the
// child's): with the child kept and the parent not, the rows the source
// changed by cascade stay as they are on the target, in silence; with the
// parent kept and the child not, the target's foreign key changes a table
// the filters leave out. Foreign keys without a cascade need no check:
// where they cross, the target refuses the row (errors 1451, 1452) and the
// replay stops there.
func (r *run) checkFilterForeignKeys(ctx context.Context) error {
	f := filter.New(r.opts.Filter(r.opts.Files))
	if !f.Filtering() {
		return nil
	}
	rows, err := r.tgt.DB().QueryContext(ctx, "SELECT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_NAME, "+
		"UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE "+
		"FROM information_schema.REFERENTIAL_CONSTRAINTS "+
		"WHERE UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION') OR DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION') "+
		"ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME")
	if err != nil {
		return fmt.Errorf("read the target's foreign keys (to check them against --databases and --tables): %w", err)
	}
	defer rows.Close()
	var crossing []string
	for rows.Next() {
		var db, name, child, parentDB, parent, onUpdate, onDelete string
		if err := rows.Scan(&db, &name, &child, &parentDB, &parent, &onUpdate, &onDelete); err != nil {
			return fmt.Errorf("read the target's foreign keys: %w", err)
		}
		childKept, parentKept := r.keptOnTarget(f, db, child), r.keptOnTarget(f, parentDB, parent)
		if childKept == parentKept {
			continue
		}
		var rules []string
		if onDelete != "RESTRICT" && onDelete != "NO ACTION" {
			rules = append(rules, "ON DELETE "+onDelete)
		}
		if onUpdate != "RESTRICT" && onUpdate != "NO ACTION" {
			rules = append(rules, "ON UPDATE "+onUpdate)
		}
		what := fmt.Sprintf("%s.%s's foreign key %s references %s.%s %s", db, child, name, parentDB, parent, strings.Join(rules, " "))
		if childKept {
			what += fmt.Sprintf(", which the filters leave out: the changes of %s.%s are not applied, so what they changed in %s.%s "+
				"on the source (not logged: the target's own foreign key would make it) is not changed", parentDB, parent, db, child)
		} else {
			what += fmt.Sprintf(": the changes of %s.%s are applied, and the target's foreign key would change %s.%s, which the filters leave out",
				parentDB, parent, db, child)
		}
		crossing = append(crossing, what)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the target's foreign keys: %w", err)
	}
	if len(crossing) == 0 {
		return nil
	}
	return fmt.Errorf("nothing applied: --databases or --tables splits tables that a cascading foreign key joins:\n  - %s\n"+
		"keep both tables of each (add them to --tables or --databases), or neither", strings.Join(crossing, "\n  - "))
}

// keptOnTarget reports whether the replay writes the target's table
// db.table: the filters name the binlogs' databases, which --rewrite-db
// writes under their new names (and not under their old ones).
func (r *run) keptOnTarget(f *filter.Filter, db, table string) bool {
	for _, rule := range r.opts.Select.RewriteDB {
		switch {
		case strings.EqualFold(db, rule.To):
			return f.KeepsTable(rule.From, table)
		case strings.EqualFold(db, rule.From):
			return false
		}
	}
	return f.KeepsTable(db, table)
}

// filterTables is what the target's databases of --tables hold beside
// the tables of --tables (see rewrite.Config): with --tables, a statement
// kept for a table of --tables that names one of the others, itself or
// through a trigger or a routine, is refused. With --rewrite-db the
// others are read from the database as the binlogs name it, where the
// target has it (the live one, beside the side database, which holds the
// tables of --tables alone: checkSideTables), and the triggers and
// routines from both (the side database's run on the target; the live
// one's tell what the statements on the tables left out did on the
// source). Where the target lacks the database as the binlogs name it,
// a statement there that names no table of --tables is refused (unseen).
type filterTables struct {
	others []string            // "db.table"
	bodies map[string][]string // a table with triggers, a routine -> the names their bodies give
	unseen []string            // databases renamed whose binlog name the target lacks (rewrite.Config.Unseen)
}

// foldCase sets Select.FoldCase from the target's lower_case_table_names
// when --databases or --tables is given: a source that folds the case of
// names logs statements naming a table in any case (TRUNCATE TABLE T1 of
// table t1), which an exact comparison would leave out in silence.
func (r *run) foldCase(ctx context.Context) error {
	if len(r.opts.Select.Databases) == 0 && len(r.opts.Select.Tables) == 0 {
		return nil
	}
	var lctn int
	if err := r.tgt.DB().QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		return fmt.Errorf("read the target's lower_case_table_names: %w", err)
	}
	if r.opts.Select.FoldCase = lctn != 0; r.opts.Select.FoldCase {
		r.logf("names: --databases and --tables compared in lower case (the target's lower_case_table_names is %d)", lctn)
	}
	return nil
}

// tablesBeside reads filterTables from the target.
func (r *run) tablesBeside(ctx context.Context) (filterTables, error) {
	var ft filterTables
	if len(r.opts.Select.Tables) == 0 {
		return ft, nil
	}
	keeps := filter.New(r.opts.Filter(r.opts.Files))
	dbs := map[string]bool{}
	for _, t := range r.opts.Select.Tables {
		if r.opts.Select.FoldCase {
			t = strings.ToLower(t)
		}
		db, _, _ := strings.Cut(t, ".")
		dbs[db] = true
	}
	ft.bodies = map[string][]string{}
	for db := range dbs {
		names, err := r.targetTables(ctx, db)
		if err != nil {
			return ft, err
		}
		if len(names) == 0 && r.renamed(db) != db {
			ft.unseen = append(ft.unseen, db)
		}
		for _, name := range names {
			if !keeps.KeepsTable(db, name) {
				ft.others = append(ft.others, db+"."+name)
			}
		}
		if err := r.readBodies(ctx, &ft, db); err != nil {
			return ft, err
		}
		if side := r.renamed(db); side != db {
			if err := r.readBodies(ctx, &ft, side); err != nil {
				return ft, err
			}
		}
	}
	slices.Sort(ft.others)
	slices.Sort(ft.unseen)
	return ft, nil
}

// readBodies adds to ft.bodies the names the triggers and routines of
// database db on the target give.
func (r *run) readBodies(ctx context.Context, ft *filterTables, db string) error {
	err := queryRows(ctx, r.tgt.DB(), func(sc func(...any) error) error {
		var name, body string
		if err := sc(&name, &body); err != nil {
			return err
		}
		ft.bodies[name] = append(ft.bodies[name], rewrite.Names([]byte(body))...)
		return nil
	}, "SELECT EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? "+
		"UNION ALL SELECT ROUTINE_NAME, COALESCE(ROUTINE_DEFINITION, '') FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", db, db)
	if err != nil {
		return fmt.Errorf("read the triggers and routines of %s on the target: %w", db, err)
	}
	return nil
}

// renamed returns the name --rewrite-db gives database db on the target
// (db itself when no rule renames it).
func (r *run) renamed(db string) string { return r.opts.Select.RewriteDB.Rename(db) }

// targetTables lists the tables of database db on the target, sorted.
func (r *run) targetTables(ctx context.Context, db string) ([]string, error) {
	var names []string
	err := queryRows(ctx, r.tgt.DB(), func(scan func(...any) error) error {
		var name string
		if err := scan(&name); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	}, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", db)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s on the target: %w", db, err)
	}
	return names, nil
}

// queryRows runs query on db and hands each row's Scan to each.
func queryRows(ctx context.Context, db *sql.DB, each func(scan func(...any) error) error, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
