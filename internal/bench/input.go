package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/txn"
)

// input is what every method applies: binlogs from a start position onto
// a base datadir, and the reference the targets are checked against.
type input struct {
	name  string
	base  string
	start txn.Position
	files []string
	// txns, rows and bytes count what is applied: transactions, row
	// changes (an update is one) and binlog bytes.
	txns, rows, bytes int64
	// source wrote the binlogs (nil for the user's binlogs). ref is the
	// reference: the source, or the anchor's first target.
	source *sandbox.Server
	ref    *sql.DB
	// servers are closed with the input: the source, or the reference.
	servers []namedServer
	// limit holds the limit's packets once prepared, for a target whose
	// max_allowed_packet is limitMax.
	limit    []limitPacket
	limitMax int
}

type namedServer struct {
	srv   *sandbox.Server
	label string
}

// close closes the reference pool and the input's servers.
func (in *input) close(o *Options) {
	if in.ref != nil {
		in.ref.Close()
	}
	for _, s := range in.servers {
		closeServer(o, s.srv, s.label)
	}
}

// closeServer stops srv and removes its directory, or with o.Keep moves
// it into o.Dir as label. Problems are logged: this is clean-up.
func closeServer(o *Options, srv *sandbox.Server, label string) {
	if o.Keep {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(o.Log, "bench: stop server %s: %v\n", label, err)
		}
		if err := os.Rename(srv.Dir, filepath.Join(o.Dir, label)); err != nil {
			fmt.Fprintf(o.Log, "bench: keep server %s: %v (left in %s)\n", label, err, srv.Dir)
			return
		}
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintf(o.Log, "bench: close server %s: %v\n", label, err)
	}
}

// runProfile generates profile p's workload and measures every method on it.
func runProfile(ctx context.Context, o *Options, p workload.Profile) (*ProfileReport, error) {
	size := fmt.Sprintf("%d transactions", o.Workload.Txns)
	if o.Workload.Duration > 0 {
		size = fmt.Sprintf("%s (at most %d transactions)", o.Workload.Duration, o.Workload.Txns)
	}
	fmt.Fprintf(o.Log, "bench: %s: generating the workload (%d rows per table, %s, %d sessions)\n", p, o.Workload.Scale, size, o.Workload.Threads)
	in := &input{name: string(p), base: filepath.Join(o.Dir, string(p)+"-base")}
	defer in.close(o)
	if err := generate(ctx, o, p, in); err != nil {
		return nil, err
	}
	pr := &ProfileReport{Profile: p, Start: in.start, Txns: in.txns, Rows: in.rows, BinlogBytes: in.bytes, CheckedAgainst: "source"}
	return pr, runInput(ctx, o, in, pr)
}

// runUserBinlogs measures every method on the user's binlogs and base.
func runUserBinlogs(ctx context.Context, o *Options) (*ProfileReport, error) {
	in := &input{name: "binlogs", base: o.Existing.Base, start: o.Existing.Start, files: o.Existing.Binlogs}
	defer in.close(o)
	if in.start.IsZero() {
		in.start = txn.Position{File: filepath.Base(o.Existing.Binlogs[0]), Offset: 4}
	}
	if err := in.count(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "bench: %d binlog files from %s: %d transactions, %d row changes, base %s\n",
		len(in.files), in.start, in.txns, in.rows, in.base)
	pr := &ProfileReport{Profile: "binlogs", Start: in.start, Txns: in.txns, Rows: in.rows, BinlogBytes: in.bytes, CheckedAgainst: "anchor"}
	return pr, runInput(ctx, o, in, pr)
}

// maxBigTxnScale caps the scale of the bigtxn profile, whose one big
// transaction inserts 500 rows per unit of scale (200,000 at the cap).
const maxBigTxnScale = 400

// generate starts a source, builds the base, snapshots it, runs the
// workload and fills in. Whatever it started is recorded in in, to be
// closed by in.close, also on error.
func generate(ctx context.Context, o *Options, p workload.Profile, in *input) error {
	srv, err := sandbox.Start(ctx, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	if err != nil {
		return err
	}
	in.source = srv
	in.servers = append(in.servers, namedServer{srv, in.name + "-source"})
	if in.ref, err = srv.Open(ctx, ""); err != nil {
		return err
	}
	wo := workload.Options{Profile: p, Seed: o.Workload.Seed, Scale: o.Workload.Scale, Txns: o.Workload.Txns, Threads: o.Workload.Threads, Format: "ROW"}
	switch p {
	case workload.OLTP, workload.OLTPSpecial:
		wo.Tables = o.Workload.Tables
	case workload.BigTxn:
		wo.Scale = min(wo.Scale, maxBigTxnScale)
	}
	if err := workload.Setup(ctx, in.ref, wo); err != nil {
		return err
	}
	// After the snapshot's restart the server writes a new binlog file:
	// the base is exactly the state before its first transaction.
	if err := srv.Snapshot(ctx, in.base); err != nil {
		return err
	}
	file, pos, err := reference.BinlogPosition(ctx, in.ref)
	if err != nil {
		return err
	}
	in.start = txn.Position{File: file, Offset: pos}
	if err := runWorkload(ctx, o, in, wo); err != nil {
		return err
	}
	if _, err := in.ref.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		return fmt.Errorf("flush binary logs: %w", err)
	}
	if in.files, err = srv.BinlogFiles(); err != nil {
		return err
	}
	return in.count(ctx)
}

// runWorkload runs the workload on the source: Txns transactions, or as
// many as fit in o.Duration.
func runWorkload(ctx context.Context, o *Options, in *input, wo workload.Options) error {
	if o.Workload.Duration <= 0 {
		return workload.Run(ctx, in.ref, wo)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Workload.Duration)
	err := workload.Run(wctx, in.ref, wo)
	cancel()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil || wctx.Err() == nil:
		return err // done before the time was up, or failed
	}
	// Time is up: the sessions were cut off, possibly with a commit sent.
	return in.quiesce(ctx)
}

// quiesce closes the source pool, whose sessions the duration cut off,
// and waits until the server has finished everything they had sent (it
// runs a received statement to its end even when the client is gone), so
// that the binlog and the data agree when the replays start. Polling is
// the only way to observe other sessions.
func (in *input) quiesce(ctx context.Context) error {
	in.ref.Close()
	var err error
	if in.ref, err = in.source.Open(ctx, ""); err != nil {
		return err
	}
	conn, err := in.ref.Conn(ctx)
	if err != nil {
		return fmt.Errorf("wait for the workload to end: %w", err)
	}
	defer conn.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST"+
			" WHERE ID <> CONNECTION_ID() AND USER <> 'system user' AND COMMAND NOT IN ('Daemon', 'Binlog Dump')").Scan(&n)
		if err != nil {
			return fmt.Errorf("wait for the workload to end: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// count counts the transactions, row changes and bytes the replay will
// apply, reading the binlogs once (untimed).
func (in *input) count(ctx context.Context) error {
	r, err := binlog.NewReader(in.files, binlog.Options{Start: in.start, DecodeRows: true})
	if err != nil {
		return fmt.Errorf("count transactions: %w", err)
	}
	defer r.Close()
	for {
		t, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("count transactions: %w", err)
		}
		in.txns++
		in.bytes += t.Bytes
		for _, ev := range t.Events {
			if ev.Kind != txn.EventRows || ev.Rows == nil {
				continue
			}
			in.rows += int64(ev.Rows.Count())
		}
	}
}
