package replay

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

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
	// HotBaseEnded and HotBaseDump are Selection.HotBase (RFC 3339, UTC):
	// a resume, which is given no --from-backup, goes on checking.
	HotBaseEnded string `json:"hot_base_ended,omitempty"`
	HotBaseDump  bool   `json:"hot_base_dump,omitempty"`
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
	if !s.HotBase.Ended.IsZero() {
		k.HotBaseEnded, k.HotBaseDump = s.HotBase.Ended.UTC().Format(time.RFC3339), s.HotBase.Dump
	}
	b, _ := json.Marshal(k) // strings and a bool: cannot fail
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
// made it when none is given, reached or not: a bare resume never applies
// past the point the operator asked for (an interrupted run may have
// reached it just before, or not at all: a resume cannot tell a Ctrl-C
// at the end from one before it); another stop point replaces it, and
// --to-end drops it. It keeps the run's --databases and --tables when none
// are given, and refuses others, and the end of its hot base
// (Selection.HotBase). A checkpoint of a version that did not
// keep them (Selection "") keeps nothing.
func (r *run) resumeSelection(cp *Checkpoint) error {
	if cp.Selection == "" {
		return nil
	}
	var k keptSelection
	if err := json.Unmarshal([]byte(cp.Selection), &k); err != nil {
		return fmt.Errorf("read the selection the checkpoint keeps: %w", err)
	}
	s := &r.opts.Select
	if flags := k.stopFlags(); flags != "" && !s.hasStop() && !s.ToEnd {
		if err := k.setStop(s); err != nil {
			return fmt.Errorf("the stop point the checkpoint keeps: %w", err)
		}
		r.logf("stop point kept from the checkpoint: %s (give another stop point, or --to-end, to go further)", flags)
	}
	if k.HotBaseEnded != "" && s.HotBase.Ended.IsZero() {
		var err error
		if s.HotBase.Ended, err = time.Parse(time.RFC3339, k.HotBaseEnded); err != nil {
			return fmt.Errorf("the hot base's end the checkpoint keeps: %w", err)
		}
		s.HotBase.Dump = k.HotBaseDump
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
