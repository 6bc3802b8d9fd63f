package preflight

import (
	"regexp"
	"strings"
)

// grants is what SHOW GRANTS says an account may do, at the global,
// database and table levels. Roles granted to the account are not
// followed (SHOW GRANTS lists them, not what they hold): roles is set
// when there are any, and a privilege not found is then "unknown" rather
// than missing.
type grants struct {
	global map[string]bool
	dbs    []levelGrant // database patterns (SQL LIKE, as SHOW GRANTS writes them)
	tables []levelGrant
	roles  bool
}

// levelGrant is the privileges granted on one database pattern or table.
type levelGrant struct {
	db, table string
	privs     map[string]bool
}

// grantLine is one GRANT line of SHOW GRANTS: the privileges and the object.
var grantLine = regexp.MustCompile(`^GRANT (.+?) ON (\S+) TO `)

// roleLine is a role granted to the account: GRANT `role` TO `user`@`host`.
var roleLine = regexp.MustCompile("^GRANT `[^`]*` TO ")

// parseGrants reads SHOW GRANTS lines. Column privileges ("SELECT (a)"),
// routine and proxy grants are ignored.
func parseGrants(lines []string) grants {
	g := grants{global: map[string]bool{}}
	for _, l := range lines {
		if roleLine.MatchString(l) {
			g.roles = true
			continue
		}
		m := grantLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		privs := map[string]bool{}
		for _, p := range splitPrivileges(m[1]) {
			if strings.Contains(p, "(") {
				continue // a column privilege
			}
			privs[p] = true
		}
		obj := m[2]
		switch {
		case obj == "*.*":
			for p := range privs {
				g.global[p] = true
			}
		case strings.HasSuffix(obj, ".*"):
			g.dbs = append(g.dbs, levelGrant{db: unquoteIdent(strings.TrimSuffix(obj, ".*")), privs: privs})
		default:
			db, table, ok := splitObject(obj)
			if ok {
				g.tables = append(g.tables, levelGrant{db: db, table: table, privs: privs})
			}
		}
	}
	return g
}

// splitPrivileges splits a GRANT's privilege list at the commas outside
// parentheses, in upper case.
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.ToUpper(strings.TrimSpace(s[start:i])))
				start = i + 1
			}
		}
	}
	return append(out, strings.ToUpper(strings.TrimSpace(s[start:])))
}

// splitObject splits `db`.`table` into its two names.
func splitObject(obj string) (db, table string, ok bool) {
	if !strings.HasPrefix(obj, "`") {
		i := strings.IndexByte(obj, '.')
		if i < 0 {
			return "", "", false
		}
		return obj[:i], obj[i+1:], true
	}
	end := -1
	for i := 1; i < len(obj); i++ {
		if obj[i] == '`' {
			if i+1 < len(obj) && obj[i+1] == '`' {
				i++
				continue
			}
			end = i
			break
		}
	}
	if end < 0 || end+1 >= len(obj) || obj[end+1] != '.' {
		return "", "", false
	}
	return unquoteIdent(obj[:end+1]), unquoteIdent(obj[end+2:]), true
}

// unquoteIdent removes the backquotes of an identifier.
func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

// has reports whether p (or ALL PRIVILEGES) is granted globally.
func (g grants) has(p string) bool {
	return g.global[p] || g.global["ALL PRIVILEGES"] || g.global["ALL"]
}

// onTable reports whether p is granted on db.table at any level.
func (g grants) onTable(db, table, p string) bool {
	if g.has(p) {
		return true
	}
	for _, d := range g.dbs {
		if likeMatch(d.db, db) && (d.privs[p] || d.privs["ALL PRIVILEGES"] || d.privs["ALL"]) {
			return true
		}
	}
	for _, t := range g.tables {
		if t.db == db && strings.EqualFold(t.table, table) && (t.privs[p] || t.privs["ALL PRIVILEGES"] || t.privs["ALL"]) {
			return true
		}
	}
	return false
}

// onDatabase reports whether p is granted on every table of db (globally
// or on the database).
func (g grants) onDatabase(db, p string) bool {
	if g.has(p) {
		return true
	}
	for _, d := range g.dbs {
		if likeMatch(d.db, db) && (d.privs[p] || d.privs["ALL PRIVILEGES"] || d.privs["ALL"]) {
			return true
		}
	}
	return false
}

// likeMatch matches name against a database pattern of a GRANT, where _
// and % are wildcards unless escaped with a backslash.
func likeMatch(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	c := pattern[0]
	switch {
	case c == '\\' && len(pattern) > 1:
		return name != "" && name[0] == pattern[1] && likeMatch(pattern[2:], name[1:])
	case c == '%':
		for i := 0; i <= len(name); i++ {
			if likeMatch(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	case c == '_':
		return name != "" && likeMatch(pattern[1:], name[1:])
	}
	return name != "" && name[0] == c && likeMatch(pattern[1:], name[1:])
}
