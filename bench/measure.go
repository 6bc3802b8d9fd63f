package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/sandbox"
	"github.com/binlog-replay/binlog-replay/verify"
	"github.com/binlog-replay/binlog-replay/workload"
)

// outcome is one timed apply of one method and its check.
type outcome struct {
	secs float64
	// applyErr says why the apply failed; problem how the target differs
	// from the reference.
	applyErr, problem string
	// isReference is set when this target became the reference.
	isReference bool
}

// measure starts a fresh target from the input's base, applies the binlogs
// with method m, timing only the apply, and checks the target against the
// reference. When there is no reference yet (the user's binlogs), the
// anchor's target becomes it and stays running until the input is closed.
// A failed apply or a differing target is reported in the outcome; the
// error is for what stops the run: a server that does not start, a failed
// check, ctx ending, or an anchor failing when it is the reference.
func measure(ctx context.Context, o *Options, in *input, m method, run int) (outcome, error) {
	tgt, err := sandbox.Start(ctx, sandbox.Options{FromDatadir: in.base, Durable: o.Durable,
		Args: []string{"--innodb-buffer-pool-size=1G"}})
	if err != nil {
		return outcome{}, err
	}
	label := fmt.Sprintf("%s-%s-%d", in.name, m.slug(), run)
	keep := false
	defer func() {
		if !keep {
			closeServer(o, tgt, label)
		}
	}()
	d, err := apply(ctx, o, in, tgt, m)
	out := outcome{secs: d.Seconds()}
	switch {
	case err != nil && ctx.Err() != nil:
		return out, ctx.Err()
	case err != nil && in.ref == nil:
		return out, fmt.Errorf("the anchor's target is the reference, and its apply failed: %s", o.errorText(m, err))
	case err != nil:
		out.applyErr = o.errorText(m, err)
		return out, nil
	}
	db, err := tgt.Open(ctx, "")
	if err != nil {
		return out, err
	}
	if in.ref == nil {
		in.ref, keep, out.isReference = db, true, true
		in.servers = append(in.servers, namedServer{tgt, label})
		return out, nil
	}
	defer db.Close()
	if o.Tamper != nil {
		if err := o.Tamper(ctx, m.name, db); err != nil {
			return out, fmt.Errorf("tamper: %w", err)
		}
	}
	vr, err := verify.Compare(ctx, db, in.ref, verify.Options{HideValues: !o.LogValues})
	if err != nil {
		return out, fmt.Errorf("verify: %w", err)
	}
	if !vr.Equal() {
		out.problem = vr.String()
	}
	return out, nil
}

// errorText is the message of err, the failed apply of method m, with the
// values it quotes left out unless o.LogValues is set. The replay's errors
// leave them out themselves; the client's and the replica's messages are
// free text, in which everything between quotes is left out.
func (o *Options) errorText(m method, err error) string {
	if o.LogValues || m.kind == KindReplay {
		return err.Error()
	}
	return redact.Text(err.Error())
}

// slug names m in directory names.
func (m method) slug() string {
	switch m.kind {
	case KindAnchor:
		return "anchor"
	case KindNative:
		return "native"
	}
	if m.apply == replay.ApplySQL {
		return fmt.Sprintf("replay-sql-w%d", m.workers)
	}
	return fmt.Sprintf("replay-w%d", m.workers)
}

// apply applies the input's binlogs to tgt with method m and returns how
// long the apply took.
func apply(ctx context.Context, o *Options, in *input, tgt *sandbox.Server, m method) (time.Duration, error) {
	switch m.kind {
	case KindNative:
		return applyNative(ctx, o, in, tgt)
	case KindAnchor:
		begin := time.Now()
		err := workload.ReplayWithMariaDBBinlog(ctx, in.files, in.start.File, in.start.Offset, tgt.Socket)
		return time.Since(begin), err
	}
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.StartPosition, ro.Workers = in.files, tgt.DSN(""), in.start, m.workers
	ro.LogValues = o.LogValues
	if m.apply != "" {
		ro.Apply = m.apply
	}
	begin := time.Now()
	sum, err := replay.Run(ctx, ro, o.Log)
	d := time.Since(begin)
	switch {
	case err == nil && sum.Applied != uint64(in.txns):
		err = fmt.Errorf("binlog-replay applied %d transactions of %d (stopped: %s)", sum.Applied, in.txns, sum.StopReason)
	case err == nil && m.apply != "" && sum.Apply != m.apply:
		err = fmt.Errorf("binlog-replay --apply %s applied row events by %s", m.apply, sum.Apply)
	}
	return d, err
}
