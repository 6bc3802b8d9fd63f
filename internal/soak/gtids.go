package soak

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
)

// targetOptions returns the options of a server restored from base for
// the replay (replay: with gtid_strict_mode when the configuration draws
// it) or the anchor: with the target's binlog drawn on, both log what they
// apply, the replay keeping the source's GTIDs (--target-gtids auto) and
// the anchor as mariadb-binlog's output sets them.
func targetOptions(base string, c ReplayConfig, replay bool) sandbox.Options {
	o := sandbox.Options{FromDatadir: base, Binlog: c.TargetBinlog, BinlogFormat: c.TargetFormat}
	if c.TargetBinlog && replay && c.StrictGTIDs {
		o.Args = append(o.Args, "--gtid-strict-mode=1")
	}
	return o
}

// binlogGTIDs returns the GTIDs of the transactions in srv's binlog, in
// the order they were logged, and those of them that are the server's own
// DROP of a session's temporary tables at its disconnect ("DROP /*!40005
// TEMPORARY */ TABLE IF EXISTS"), logged under the session's GTID domain
// and server id.
func binlogGTIDs(ctx context.Context, srv *sandbox.Server) (gtids []string, dropped map[string]bool, err error) {
	db, err := srv.Open(ctx, "")
	if err != nil {
		return nil, nil, fmt.Errorf("binlog GTIDs: %w", err)
	}
	defer db.Close()
	files, err := queryColumn(ctx, db, "SHOW BINARY LOGS", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("binlog GTIDs: %w", err)
	}
	dropped = map[string]bool{}
	for _, f := range files {
		rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN '"+f+"'")
		if err != nil {
			return nil, nil, fmt.Errorf("binlog GTIDs of %s: %w", f, err)
		}
		prev := ""
		for rows.Next() {
			var name, typ, info string
			var pos, serverID, end uint64
			if err := rows.Scan(&name, &pos, &typ, &serverID, &end, &info); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("binlog GTIDs of %s: %w", f, err)
			}
			switch {
			case typ == "Gtid":
				gtids = append(gtids, gtidOfInfo(info))
			case typ == "Query" && prev == "Gtid" && strings.Contains(info, "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS"):
				dropped[gtids[len(gtids)-1]] = true
			}
			prev = typ
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("binlog GTIDs of %s: %w", f, err)
		}
	}
	return gtids, dropped, nil
}

// gtidOfInfo returns the GTID in a Gtid event's Info ("BEGIN GTID 0-1-5",
// "GTID 0-1-6", "BEGIN GTID 0-1-7 cid=12").
func gtidOfInfo(info string) string {
	f := strings.Fields(info)
	for i, w := range f {
		if w == "GTID" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return info
}

// queryColumn returns column col of every row of query.
func queryColumn(ctx context.Context, db *sql.DB, query string, col int) ([]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals[col].String)
	}
	return out, rows.Err()
}

// gtidFailures compares the GTIDs the target logged (target) with the
// source's transactions it holds (applied, in source order) and with what
// the anchor logged (anchor; nil when there is none to compare). A
// target commit is logged with the GTID of the last source transaction of
// its group, so the GTIDs of the others are missing by design; what must
// hold is:
//   - every GTID the target logged is one of applied's (none of its own,
//     none past the stop point);
//   - in each domain, the target's GTIDs follow the source's order, and
//     the last is the source's last applied (the target's gtid_binlog_pos
//     is where a replica of it would resume);
//   - no GTID is logged more often by the target than by the anchor
//     (mariadb-binlog | mariadb), and exempt ones (transactions the soak
//     settled by hand) are left out of that count.
func gtidFailures(target []string, applied []binlogtext.BinTxn, anchor []string, exempt map[string]bool) []Failure {
	var fs []Failure
	order := map[string]int{} // source GTID -> index in applied
	lastOf := map[string]string{}
	for i, t := range applied {
		order[t.GTID] = i
		lastOf[gtidDomain(t.GTID)] = t.GTID
	}
	var foreign []string
	last := map[string]string{} // domain -> the target's last GTID
	var backwards []string
	for _, g := range target {
		i, ok := order[g]
		if !ok {
			foreign = append(foreign, g)
			continue
		}
		d := gtidDomain(g)
		if prev, ok := last[d]; ok && order[prev] > i {
			backwards = append(backwards, prev+" then "+g)
		}
		last[d] = g
	}
	if len(foreign) > 0 {
		fs = append(fs, Failure{Class: "target binlog: a GTID that is not a source transaction applied",
			Detail: fmt.Sprintf("the target logged %s; the source range applied holds %d transactions", list(foreign), len(applied))})
	}
	if len(backwards) > 0 {
		fs = append(fs, Failure{Class: "target binlog: GTIDs out of the source's order",
			Detail: "the target logged " + list(backwards)})
	}
	for d, want := range lastOf {
		if got := last[d]; got != want {
			fs = append(fs, Failure{Class: "target binlog: the last GTID of a domain is not the source's last applied",
				Detail: fmt.Sprintf("domain %s: the target's last is %q, the source's last applied %s", d, got, want)})
		}
	}
	if anchor != nil {
		counts := map[string]int{}
		for _, g := range anchor {
			counts[g]++
		}
		var twice []string
		for _, g := range duplicates(target) {
			if !exempt[g] && count(target, g) > counts[g] {
				twice = append(twice, fmt.Sprintf("%s (%d times, the anchor %d)", g, count(target, g), counts[g]))
			}
		}
		if len(twice) > 0 {
			fs = append(fs, Failure{Class: "target binlog: a GTID logged twice", Detail: "the target logged " + list(twice)})
		}
	}
	return fs
}

// gtidDomain returns the domain of a MariaDB GTID domain-server-seq.
func gtidDomain(g string) string {
	d, _, _ := strings.Cut(g, "-")
	return d
}

// count returns how often g occurs in l.
func count(l []string, g string) int {
	n := 0
	for _, x := range l {
		if x == g {
			n++
		}
	}
	return n
}

// duplicates returns the GTIDs that occur more than once in l.
func duplicates(l []string) []string {
	seen := map[string]int{}
	var out []string
	for _, g := range l {
		if seen[g]++; seen[g] == 2 {
			out = append(out, g)
		}
	}
	return out
}

// list returns up to ten GTIDs of l, and how many more.
func list(l []string) string {
	switch {
	case len(l) == 0:
		return "none"
	case len(l) > 10:
		return fmt.Sprintf("%s and %d more", strings.Join(l[:10], " "), len(l)-10)
	}
	return strings.Join(l, " ")
}
