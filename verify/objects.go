package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// ObjectsTable is the Table of the TableReport that gathers the
// differences of a database's stored objects (routines, triggers, views,
// events), which belong to no table the report names.
const ObjectsTable = "(routines, triggers, views, events)"

// objectQueries read a database's stored objects: a name ("procedure
// `p`") and what defines each (its text and the session settings it
// keeps), the creation and change times left out.
var objectQueries = []string{
	`SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', '` + "`" + `', ROUTINE_NAME, '` + "`" + `'),
		CONCAT_WS('|', COALESCE(DTD_IDENTIFIER, ''), ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE,
			SQL_MODE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION,
			(SELECT GROUP_CONCAT(CONCAT_WS(' ', COALESCE(PARAMETER_MODE, ''), COALESCE(PARAMETER_NAME, ''), DTD_IDENTIFIER)
				ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.PARAMETERS p
			 WHERE p.SPECIFIC_SCHEMA = r.ROUTINE_SCHEMA AND p.SPECIFIC_NAME = r.SPECIFIC_NAME AND p.ROUTINE_TYPE = r.ROUTINE_TYPE))
	 FROM information_schema.ROUTINES r WHERE ROUTINE_SCHEMA = ?`,
	`SELECT CONCAT('trigger ` + "`" + `', TRIGGER_NAME, '` + "`" + `'),
		CONCAT_WS('|', EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, ACTION_STATEMENT,
			SQL_MODE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION)
	 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
	`SELECT CONCAT('view ` + "`" + `', TABLE_NAME, '` + "`" + `'),
		CONCAT_WS('|', VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION)
	 FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`,
	`SELECT CONCAT('event ` + "`" + `', EVENT_NAME, '` + "`" + `'),
		CONCAT_WS('|', EVENT_DEFINITION, EVENT_TYPE, COALESCE(EXECUTE_AT, ''), COALESCE(INTERVAL_VALUE, ''),
			COALESCE(INTERVAL_FIELD, ''), SQL_MODE, STATUS, ON_COMPLETION, DEFINER, TIME_ZONE,
			CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION)
	 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
}

// loadObjects returns the stored objects of database db, by name.
func loadObjects(ctx context.Context, q querier, db string) (map[string]string, error) {
	out := map[string]string{}
	for _, query := range objectQueries {
		rows, err := q.QueryContext(ctx, query, db)
		if err != nil {
			return nil, fmt.Errorf("read the stored objects of %s: %w", quoteIdent(db), err)
		}
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the stored objects of %s: %w", quoteIdent(db), err)
			}
			out[name] = def
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read the stored objects of %s: %w", quoteIdent(db), err)
		}
	}
	return out, nil
}

// objectsDiff lists the stored objects missing on one side or defined
// otherwise, sorted.
func objectsDiff(target, ref map[string]string) []string {
	var diffs []string
	for name, def := range ref {
		switch tdef, ok := target[name]; {
		case !ok:
			diffs = append(diffs, name+": missing in target")
		case tdef != def:
			diffs = append(diffs, fmt.Sprintf("%s: defined otherwise: target %q, reference %q", name, tdef, def))
		}
	}
	for name := range target {
		if _, ok := ref[name]; !ok {
			diffs = append(diffs, name+": missing in reference")
		}
	}
	sort.Strings(diffs)
	return diffs
}

// compareObjects returns the report of db's stored objects when they
// differ (nil when they are alike).
func (c *comparer) compareObjects(ctx context.Context, db string) (*TableReport, error) {
	tdb := c.opts.targetDB(db)
	tobj, err := loadObjects(ctx, c.target, tdb)
	if err != nil {
		return nil, err
	}
	robj, err := loadObjects(ctx, c.ref, db)
	if err != nil {
		return nil, err
	}
	diffs := objectsDiff(tobj, robj)
	if len(diffs) == 0 {
		return nil, nil
	}
	tr := &TableReport{Schema: db, Table: ObjectsTable, Status: SchemaDiffers, Detail: strings.Join(diffs, "\n")}
	if tdb != db {
		tr.TargetSchema = tdb
	}
	return tr, nil
}
