package soak

import (
	"context"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"
	"github.com/binlog-replay/binlog-replay/verify"
)

// A replay into a side database (ReplayConfig.RewriteDB) runs on a target
// that holds the base twice, as an operator restores a backup under
// another name beside the live database: the workload's database and its
// copy SideDB. The replay applies the binlogs to the copy; the check
// compares the copy with the anchor, and the original with what it held
// before the replay (the replay must not write it).

// makeSideDB copies the workload's database on target to SideDB, made
// anew: its default character set and collation, tables (all, or those
// of tables, as "db.table"), rows, triggers and routines (restoreTables).
// It returns an error when the copy differs from the original, table by
// table (the harness could not make it).
func makeSideDB(ctx context.Context, target *sandbox.Server, tables []string) error {
	db, err := target.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("side database: open target: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+SideDB+"`"); err != nil {
		return fmt.Errorf("side database: %w", err)
	}
	var name, create string
	if err := db.QueryRowContext(ctx, "SHOW CREATE DATABASE `"+seedgen.DB+"`").Scan(&name, &create); err != nil {
		return fmt.Errorf("side database: %w", err)
	}
	// Quoted with double quotes under ANSI_QUOTES (FeatTargetConfig).
	create = strings.NewReplacer("`"+seedgen.DB+"`", "`"+SideDB+"`", `"`+seedgen.DB+`"`, `"`+SideDB+`"`).Replace(create)
	if _, err := db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("side database: %s: %w", create, err)
	}
	var names []string
	if len(tables) > 0 {
		// Those the base holds: a refusal may name one the binlogs
		// create.
		var have []string
		for _, t := range tables {
			if name := strings.TrimPrefix(t, seedgen.DB+"."); tableEngine(ctx, seedgen.DB, name, db) != "?" {
				names, have = append(names, name), append(have, t)
			}
		}
		if tables = have; len(tables) == 0 {
			return nil
		}
	}
	if err := restoreTables(ctx, target, target, SideDB, names, "--routines", "--hex-blob"); err != nil {
		return fmt.Errorf("side database: %w", err)
	}
	opts := verify.Options{Databases: []string{seedgen.DB}, TargetNames: map[string]string{seedgen.DB: SideDB}, SampleRows: 3}
	if len(tables) > 0 {
		opts.Databases, opts.Tables = nil, tables
	}
	rep, err := verify.Compare(ctx, db, db, opts)
	if err != nil {
		return fmt.Errorf("side database: compare with the original: %w", err)
	}
	if len(rep.Differences()) > 0 {
		return fmt.Errorf("side database: the copy differs from the original:\n%s", rep)
	}
	return nil
}

// checkOriginal compares the workload database's tables on target with
// their digests before the replay (digests): a table the replay wrote,
// created or dropped there is a failure.
func checkOriginal(ctx context.Context, target *sandbox.Server, before map[string]string) ([]Failure, error) {
	after, err := digests(ctx, target)
	if err != nil {
		return nil, err
	}
	changed := changedTables(before, after)
	if len(changed) == 0 {
		return nil, nil
	}
	return []Failure{{Class: "--rewrite-db wrote the original database",
		Detail: fmt.Sprintf("the target's %s, which --rewrite-db %s=%s leaves alone, differs from before the replay: %s",
			seedgen.DB, seedgen.DB, SideDB, strings.Join(changed, ", "))}}, nil
}
