package rewrite

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Rule renames one database: From as the binlogs name it, To on the
// target.
type Rule struct{ From, To string }

// ParseRule parses "FROM=TO" (or mysqlbinlog's "FROM->TO").
func ParseRule(s string) (Rule, error) {
	from, to, ok := strings.Cut(s, "->")
	if !ok {
		from, to, ok = strings.Cut(s, "=")
	}
	if !ok {
		return Rule{}, fmt.Errorf("--rewrite-db %q: want OLD=NEW", s)
	}
	r := Rule{From: strings.TrimSpace(from), To: strings.TrimSpace(to)}
	for _, name := range []string{r.From, r.To} {
		if err := checkName(name); err != nil {
			return Rule{}, fmt.Errorf("--rewrite-db %q: %w", s, err)
		}
	}
	return r, nil
}

// String formats r as ParseRule reads it.
func (r Rule) String() string { return r.From + "=" + r.To }

// checkName refuses a database name the rewriter cannot match with
// certainty: it must be 1 to 64 characters of printable ASCII (a name in
// another character set could be written differently in a statement's
// text than in the command line), without '.', '/', '\', '=' or ',', and not
// end in a space.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("database name %q: want 1 to 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e || strings.IndexByte("./\\=,", c) >= 0 {
			return fmt.Errorf("database name %q: only printable ASCII without . / \\ = , is supported", name)
		}
	}
	if strings.HasSuffix(name, " ") {
		return fmt.Errorf("database name %q ends in a space", name)
	}
	return nil
}

// reserved are the databases a rewrite may neither read from nor write
// to: the server's own, and binlog_replay, where the replay keeps its
// checkpoint (internal/target.CheckpointSchema).
var reserved = []string{"mysql", "information_schema", "performance_schema", "sys", "binlog_replay"}

// Reserved reports whether name is a database no rule may name: the
// server's system databases and the replay's checkpoint database.
func Reserved(name string) bool {
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// Rules are the rules of one replay.
type Rules []Rule

// Check refuses rules that cannot be applied with certainty: a reserved
// database on either side, a database renamed to itself or twice, two
// databases renamed to one (their tables would mix), or a new name that
// is also renamed (a chain or a swap, which reads two ways).
func (rs Rules) Check() error {
	from, to := map[string]bool{}, map[string]string{}
	for _, r := range rs {
		switch {
		case Reserved(r.From) || Reserved(r.To):
			return fmt.Errorf("--rewrite-db %s: %s and the system databases (%s) cannot be renamed, nor be renamed to",
				r, reserved[len(reserved)-1], strings.Join(reserved[:len(reserved)-1], ", "))
		case strings.EqualFold(r.From, r.To):
			return fmt.Errorf("--rewrite-db %s: the new name must differ from the old one", r)
		case from[r.From]:
			return fmt.Errorf("--rewrite-db %s: %s is renamed twice", r, r.From)
		case to[strings.ToLower(r.To)] != "":
			return fmt.Errorf("--rewrite-db %s: %s and %s would both be renamed to %s", r, to[strings.ToLower(r.To)], r.From, r.To)
		}
		from[r.From], to[strings.ToLower(r.To)] = true, r.From
	}
	for _, r := range rs {
		for f := range from {
			if strings.EqualFold(f, r.To) {
				return fmt.Errorf("--rewrite-db %s: %s is also renamed: chains and swaps are not supported", r, r.To)
			}
		}
	}
	return nil
}

// String formats the rules sorted by old name, comma-separated: two sets
// of the same rules give the same string.
// Rename returns the name the rules give database db: its rule's To,
// or db when no rule names it (compared as MariaDB compares database
// names on a case-insensitive file system: without case).
func (rs Rules) Rename(db string) string {
	for _, r := range rs {
		if strings.EqualFold(db, r.From) {
			return r.To
		}
	}
	return db
}

// WrittenDatabases returns the databases a replay keeping only databases
// and tables ("db.table") writes, renamed by rs, sorted; nil when it
// keeps every database (neither is given).
func (rs Rules) WrittenDatabases(databases, tables []string) []string {
	var out []string
	for _, db := range databases {
		out = append(out, rs.Rename(db))
	}
	for _, t := range tables {
		if db, _, ok := strings.Cut(t, "."); ok {
			out = append(out, rs.Rename(db))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (rs Rules) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ParseRules parses what Rules.String writes ("" is no rule).
func ParseRules(s string) (Rules, error) {
	var rs Rules
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		r, err := ParseRule(part)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rs.Check()
}

// errNoRules is returned by New without rules.
var errNoRules = errors.New("rewrite: no --rewrite-db rule")
