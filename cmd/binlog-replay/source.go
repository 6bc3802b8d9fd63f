package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// SourceFlags are the flags that read the binlogs from a live server with
// the replication protocol instead of files; replay and plan share them.
type SourceFlags struct {
	Source         string
	SourceStart    string
	SourceServerID uint
}

// AddFlags registers the flags on fs.
func (o *SourceFlags) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Source, "source", "", "read the binlogs from this live server `DSN` with the replication protocol instead of files "+
		"(its user needs REPLICATION SLAVE; password from "+sourcePwdEnv+", else MYSQL_PWD)")
	fs.StringVar(&o.SourceStart, "source-start", "", "with --source: start at `FILE:POS` in the source's binlogs, or after a MariaDB GTID position (d-s-n,...)")
	fs.UintVar(&o.SourceServerID, "source-server-id", 0, "with --source: server_id of the dump connection, unique among the source's replicas (default: random in 2147483648..4294967295)")
}

// check refuses file arguments with --source, and the other source flags
// without it.
func (o *SourceFlags) check(args []string) error {
	switch {
	case o.Source != "" && len(args) > 0:
		return errors.New("give binlog files or --source, not both")
	case o.Source == "" && (o.SourceStart != "" || o.SourceServerID != 0):
		return errors.New("--source-start and --source-server-id need --source")
	}
	return nil
}

// options returns the --source settings. The start point comes from
// --source-start, or from --start-position, --start-gtid (startGTID) or
// --from-backup (one of them), already in start and f: a GTID start is
// where the source's dump begins and is also skipped by the filter.
func (o *SourceFlags) options(startGTID string, start *txn.Position, f *filter.Options, warn io.Writer) (replay.Source, error) {
	dsn, err := resolveSourceDSN(o.Source, warn)
	if err != nil {
		return replay.Source{}, err
	}
	src := replay.Source{DSN: dsn, ServerID: uint32(o.SourceServerID), StartGTID: strings.TrimSpace(startGTID)}
	if o.SourceServerID > math.MaxUint32 {
		return src, fmt.Errorf("--source-server-id %d is out of range", o.SourceServerID)
	}
	if src.ServerID == 0 {
		src.ServerID = 1<<31 + rand.Uint32N(1<<31)
	}
	if o.SourceStart == "" {
		return src, nil
	}
	if !start.IsZero() || !f.StartGTIDs.IsEmpty() {
		return src, errors.New("give one start point: --source-start, or --start-position, --start-gtid or --from-backup")
	}
	if isGTIDList(o.SourceStart) {
		if f.StartGTIDs, err = txn.ParseGTIDSet(o.SourceStart); err != nil {
			return src, fmt.Errorf("--source-start: %w", err)
		}
		src.StartGTID = strings.TrimSpace(o.SourceStart)
		return src, nil
	}
	*start, err = parsePosition("source-start", o.SourceStart)
	return src, err
}

// isGTIDList reports whether s looks like a MariaDB GTID position
// ("0-1-100,1-2-5") rather than FILE:POS.
func isGTIDList(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && strings.Trim(s, "0123456789-, ") == "" && strings.Contains(s, "-")
}
