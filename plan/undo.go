package plan

import (
	"path/filepath"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// undoOf fills in, for the destructive transaction t, whether
// binlog-replay undo can reverse it as far as the binlog tells, and the
// range flags of the command that does, by positions and, where t has a
// MariaDB GTID, by GTID (see Candidate.Undo): what the target says (its
// tables' engines and foreign keys, later writes to the rows) is checked
// by the undo itself, before it writes anything.
func (s *stopFinder) undoOf(t *txn.Txn, c *Candidate) {
	if why := notUndoable(t); why != "" {
		c.UndoRefusal = why
		return
	}
	c.Undo = []string{"--start-position " + t.Start.String(), "--stop-position " + t.End.String()}
	if g := t.GTID; g.Flavor == txn.FlavorMariaDB && !g.IsZero() {
		r := filter.GTIDRange{Domain: g.Domain, Server: g.Server, First: g.Seq, Last: g.Seq}
		c.UndoGTIDs = []string{"--gtids " + r.String()}
	}
}

// notUndoable returns why undo refuses t, as far as its events say, or "".
func notUndoable(t *txn.Txn) string {
	switch {
	case t.Kind == txn.KindDDL:
		return "it is DDL or a statement logged on its own: undo reverses row changes only"
	case t.Kind == txn.KindStatement:
		return "it holds statement-format DML: the binlog does not hold the rows it changed"
	case t.NonTransactional || t.RolledBack:
		return "it writes non-transactional tables"
	}
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != txn.EventRows {
			continue
		}
		if err := rowedit.CheckInvertible(e); err != nil {
			return e.TypeName + " at " + e.Pos.String() + ": " + err.Error()
		}
	}
	return ""
}

// undoCommand returns the undo command line with the range flags flags
// (Candidate.Undo or UndoGTIDs) for the files of the report: their
// directory when they share one (the command then reads every binlog
// there), else the files; BINLOGS... when they were read from a server.
func undoCommand(flags []string, files []FileInfo) string {
	args := "BINLOGS..."
	if len(files) > 0 {
		dir := filepath.Dir(files[0].Path)
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = f.Path
			if filepath.Dir(f.Path) != dir {
				dir = ""
			}
		}
		args = strings.Join(paths, " ")
		if dir != "" {
			args = dir + "/"
		}
	}
	return "binlog-replay undo --target DSN " + strings.Join(flags, " ") + " " + args
}
