package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// keptSelection is what a checkpoint keeps of its last run's selection
// (target.Checkpoint.Selection), besides the --start-gtid set and the
// --exclude-gtids: a resume given none of it keeps it (resumeSelection),
// so that a resume after a kill neither applies past the stop point the
// operator asked for nor applies other databases.
type keptSelection struct {
	StopPosition   string   `json:"stop_position,omitempty"`
	StopDatetime   string   `json:"stop_datetime,omitempty"` // RFC 3339, UTC
	StopBeforeGTID string   `json:"stop_before_gtid,omitempty"`
	Databases      []string `json:"databases,omitempty"`
	Tables         []string `json:"tables,omitempty"`
}

// hasStop reports whether s gives a stop point.
func (s *Selection) hasStop() bool {
	return !s.StopPosition.IsZero() || !s.StopDatetime.IsZero() || !s.StopBeforeGTID.IsZero()
}

// keep returns what a checkpoint keeps of s, as JSON.
func (s *Selection) keep() string {
	k := keptSelection{Databases: s.Databases, Tables: s.Tables}
	if !s.StopPosition.IsZero() {
		k.StopPosition = s.StopPosition.String()
	}
	if !s.StopDatetime.IsZero() {
		k.StopDatetime = s.StopDatetime.UTC().Format(time.RFC3339Nano)
	}
	if !s.StopBeforeGTID.IsZero() {
		k.StopBeforeGTID = s.StopBeforeGTID.String()
	}
	b, _ := json.Marshal(k) // strings only: cannot fail
	return string(b)
}

// stopFlags describes k's stop point as the flags that give it.
func (k keptSelection) stopFlags() string {
	var f []string
	if k.StopPosition != "" {
		f = append(f, "--stop-position "+k.StopPosition)
	}
	if k.StopDatetime != "" {
		f = append(f, "--stop-datetime "+k.StopDatetime)
	}
	if k.StopBeforeGTID != "" {
		f = append(f, "--stop-before-gtid "+k.StopBeforeGTID)
	}
	return strings.Join(f, " ")
}

// resumeSelection, resuming from cp, keeps the stop point of the run that
// made it when none is given (nor --to-end) and that run did not reach it
// (it was killed, or stopped on an error, before): the transaction at the
// checkpoint does not meet it. A stop point reached is done with: a bare
// resume then goes on to the end, as after START SLAVE UNTIL. It keeps
// the run's --databases and --tables when none are given, and refuses
// others. A checkpoint of a version that did not keep them (Selection "")
// keeps nothing.
func (r *run) resumeSelection(ctx context.Context, cp *Checkpoint) error {
	if cp.Selection == "" {
		return nil
	}
	var k keptSelection
	if err := json.Unmarshal([]byte(cp.Selection), &k); err != nil {
		return fmt.Errorf("read the selection the checkpoint keeps: %w", err)
	}
	s := &r.opts.Select
	if flags := k.stopFlags(); flags != "" && !s.hasStop() && !s.ToEnd {
		var kept Selection
		if err := k.setStop(&kept); err != nil {
			return fmt.Errorf("the stop point the checkpoint keeps: %w", err)
		}
		switch reached, err := r.stopMetAt(ctx, cp.Next, kept); {
		case err != nil:
			r.logf("could not read the binlogs at the checkpoint to tell whether the earlier run reached its stop point (%v): keeping it", err)
			fallthrough
		case !reached:
			s.StopPosition, s.StopDatetime, s.StopBeforeGTID = kept.StopPosition, kept.StopDatetime, kept.StopBeforeGTID
			r.logf("stop point kept from the checkpoint, which the earlier run did not reach: %s (give another stop point, or --to-end, to go further)", flags)
		default:
			r.logf("the earlier run reached its stop point (%s): this resume goes on to the end of the binlogs", flags)
		}
	}
	switch {
	case len(s.Databases) == 0 && len(s.Tables) == 0:
		s.Databases, s.Tables = k.Databases, k.Tables
		if len(k.Databases)+len(k.Tables) > 0 {
			r.logf("--databases %q --tables %q kept from the checkpoint", strings.Join(k.Databases, ","), strings.Join(k.Tables, ","))
		}
	case !slices.Equal(s.Databases, k.Databases) || !slices.Equal(s.Tables, k.Tables):
		return fmt.Errorf("the checkpoint was made applying --databases %q --tables %q: a resume keeps them (give them again, or none); "+
			"to apply other databases, start over (drop the database `%s` on the target)",
			strings.Join(k.Databases, ","), strings.Join(k.Tables, ","), CheckpointSchema)
	}
	return nil
}

// stopMetAt reports whether a run with s's stop point that stopped at pos
// had reached it: whether the first transaction from pos that the run's
// GTID filters (--start-gtid, --exclude-gtids) do not skip meets it. No
// transaction there (the end of the binlogs) meets none.
func (r *run) stopMetAt(ctx context.Context, pos txn.Position, s Selection) (bool, error) {
	bo := binlog.Options{Start: pos, SkipUnknown: r.opts.Recovery.SkipUnknown,
		NoContinuityCheck: r.opts.Recovery.NoContinuityCheck, StreamAbove: scanPiece, ReadAheadBytes: scanPiece}
	var rd *binlog.Reader
	var err error
	if r.opts.Source.DSN == "" {
		rd, err = binlog.NewReader(r.opts.Files, bo)
	} else {
		src, serr := r.opts.Source.Remote()
		if serr != nil {
			return false, serr
		}
		rd, err = binlog.NewRemoteReader(ctx, src, bo)
	}
	if err != nil {
		return false, err
	}
	defer rd.Close()
	o := r.opts.Filter(r.opts.Files)
	o.StopPosition, o.StopDatetime, o.StopBeforeGTID = s.StopPosition, s.StopDatetime, s.StopBeforeGTID
	f := filter.New(o)
	for {
		t, err := rd.Next(ctx)
		var trunc *binlog.TruncatedError
		switch {
		case errors.Is(err, io.EOF), errors.As(err, &trunc):
			return false, nil
		case err != nil:
			return false, err
		}
		stop := f.Stop(t)
		if t.Part > 0 {
			stop = f.StopAt(t)
		}
		if stop != "" {
			return true, nil
		}
		if !f.Skips(t) {
			return false, nil
		}
	}
}

// setStop sets k's stop point in s.
func (k keptSelection) setStop(s *Selection) error {
	var err error
	if k.StopPosition != "" {
		if s.StopPosition, err = txn.ParsePosition(k.StopPosition); err != nil {
			return err
		}
	}
	if k.StopDatetime != "" {
		if s.StopDatetime, err = time.Parse(time.RFC3339Nano, k.StopDatetime); err != nil {
			return err
		}
	}
	if k.StopBeforeGTID != "" {
		if s.StopBeforeGTID, err = txn.ParseGTID(k.StopBeforeGTID); err != nil {
			return err
		}
	}
	return nil
}
