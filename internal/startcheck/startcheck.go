// Package startcheck reads the binlogs just before a replay's start point,
// which the restored base holds, for the checks that need them: the GTID
// history before the start, and whether the base is already past a
// --stop-datetime. The replay and plan share it, so that plan foresees
// what the replay refuses.
package startcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Opener opens a reader of the run's binlogs (its files, or its source
// server) from a position.
type Opener func(ctx context.Context, from txn.Position) (*binlog.Reader, error)

// Before reads start's file from its beginning and hands each whole
// transaction before start to each, in order, until each returns false. It
// returns the GTID history at the file's beginning. A binlog truncated
// before start ends the reading as its end does.
func Before(ctx context.Context, open Opener, start txn.Position, each func(t *txn.Txn) bool) (txn.GTIDSet, error) {
	rd, err := open(ctx, txn.Position{File: start.File, Offset: 4})
	if err != nil {
		return txn.GTIDSet{}, err
	}
	defer rd.Close()
	for {
		t, err := rd.Next(ctx)
		var trunc *binlog.TruncatedError
		if errors.Is(err, io.EOF) || errors.As(err, &trunc) {
			break
		}
		if err != nil {
			return txn.GTIDSet{}, err
		}
		if t.Start.File != start.File || t.Start.Offset >= start.Offset {
			break
		}
		if (t.Part == 0 || t.Final) && !each(t) {
			break
		}
	}
	atFile, _, _ := rd.GTIDHistory()
	return atFile, nil
}

// SourceStart returns where a source server, asked to start at a GTID
// position (open from the zero position), starts sending: the position of
// the first transaction it sends, zero when it sends none. Its reader is
// closed before it returns: a second dump connection of one server id
// makes the source end the first.
func SourceStart(ctx context.Context, open Opener) (txn.Position, error) {
	rd, err := open(ctx, txn.Position{})
	if err != nil {
		return txn.Position{}, err
	}
	defer rd.Close()
	t, err := rd.Next(ctx)
	switch {
	case errors.Is(err, io.EOF):
		return txn.Position{}, nil
	case err != nil:
		return txn.Position{}, err
	}
	return t.Start, nil
}

// StopDatetimeBehind returns why --stop-datetime (f's) lies behind start,
// a fresh run's start position: a transaction before it, which the
// restored base holds, was committed at or after the stop time
// (filter.StopBeforeStart). It reads start's file from its beginning to
// start and, when no transaction comes before start there (a base taken at
// a rotation, as mysqldump --flush-logs takes it), prev, the file before,
// whole. notChecked says why the check could not be made ("" when it was):
// prev is "" (not given), or it could not be read.
func StopDatetimeBehind(ctx context.Context, open Opener, f *filter.Filter, start txn.Position, prev string) (why, notChecked string) {
	seen := 0
	if _, err := Before(ctx, open, start, func(t *txn.Txn) bool {
		seen++
		why = f.StopBeforeStart(t, start)
		return why == ""
	}); err != nil && why == "" {
		return "", fmt.Sprintf("could not read %s before the start (%v)", start.File, err)
	}
	if why != "" || seen > 0 {
		return why, ""
	}
	if prev == "" {
		return "", fmt.Sprintf("no transaction comes before the start %s in its file, and the file before it is not given", start)
	}
	if _, err := Before(ctx, open, txn.Position{File: prev, Offset: math.MaxUint64}, func(t *txn.Txn) bool {
		why = f.StopBeforeStart(t, start)
		return why == ""
	}); err != nil && why == "" {
		return "", fmt.Sprintf("could not read %s, the file before the start %s (%v)", prev, start, err)
	}
	return why, ""
}

// PreviousFile returns the binlog file before name: the one before it in
// files (paths, in order; their base names) when files are given, else
// the one before it in its server's numbering ("mysql-bin.000004" before
// "mysql-bin.000005"); "" when there is none.
func PreviousFile(name string, files []string, base func(path string) string) string {
	if len(files) > 0 {
		for i, path := range files {
			if i > 0 && base(path) == name {
				return base(files[i-1])
			}
		}
		return ""
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return ""
	}
	n, err := strconv.ParseUint(name[dot+1:], 10, 32)
	if err != nil || n <= 1 {
		return ""
	}
	return fmt.Sprintf("%s.%0*d", name[:dot], len(name)-dot-1, n-1)
}
