package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/netdelay"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/verify"
)

// outcome is one timed apply of one method and its check.
type outcome struct {
	secs float64
	// used is the CPU the apply used.
	used usage
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
	tgt, err := sandbox.Start(ctx, sandbox.Options{FromDatadir: in.base, Durable: o.Env.Durable,
		Args: []string{"--innodb-buffer-pool-size=1G"}, Env: o.syncEnv})
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
	used, err := apply(ctx, o, in, tgt, m)
	out := outcome{secs: used.wall.Seconds(), used: used}
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
	case KindLimit:
		return "limit"
	}
	slug := fmt.Sprintf("replay-w%d", m.workers)
	if m.groupTxns > 0 {
		slug += fmt.Sprintf("-g%d", m.groupTxns)
	}
	if m.apply == replay.ApplySQL {
		slug += "-sql"
	}
	if !m.compact {
		slug += "-nocompact"
	}
	return slug
}

// apply applies the input's binlogs to tgt with method m and returns how
// long the apply took and the CPU it used. With o.TargetLatency the
// method reaches the target (native replication: the source) through a
// latency proxy, closed when the apply ends.
func apply(ctx context.Context, o *Options, in *input, tgt *sandbox.Server, m method) (usage, error) {
	upstream := tgt.Port
	if m.kind == KindNative && in.source != nil {
		upstream = in.source.Port
	}
	var proxy *netdelay.Proxy
	if o.Env.TargetLatency > 0 {
		var err error
		if proxy, err = netdelay.Listen(ctx, fmt.Sprintf("127.0.0.1:%d", upstream), o.Env.TargetLatency); err != nil {
			return usage{}, err
		}
		defer proxy.Close()
	}
	var (
		used usage
		err  error
	)
	switch m.kind {
	case KindNative:
		port := 0
		if proxy != nil {
			port = proxy.Addr().Port
		}
		used, err = applyNative(ctx, o, in, tgt, port)
	case KindAnchor:
		used, err = applyAnchor(ctx, in, tgt, proxy)
	case KindLimit:
		used, err = applyLimitMethod(ctx, in, tgt, proxy)
	default:
		used, err = applyReplay(ctx, o, in, tgt, m, proxy)
	}
	if proxy != nil {
		// Close waits for the proxy's connections, whose CPU it then knows.
		proxy.Close()
		used.proxy = proxy.CPU()
		used.rtt, used.rttN = proxy.RoundTrip(), 1
		if m.kind == KindReplay || m.kind == KindLimit {
			used.tool = max(0, used.self-used.proxy)
		}
	}
	return used, err
}

// applyAnchor applies the input with mariadb-binlog | mariadb, the client
// connecting through proxy when there is one.
func applyAnchor(ctx context.Context, in *input, tgt *sandbox.Server, proxy *netdelay.Proxy) (usage, error) {
	client := reference.Client{Socket: tgt.Socket}
	if proxy != nil {
		client = reference.Client{Host: "127.0.0.1", Port: proxy.Addr().Port}
	}
	m := startMeter(tgt.Pid)
	cpu, err := reference.ApplyWithMariaDBBinlog(ctx, in.files, in.start.File, in.start.Offset, client)
	used := m.stop()
	used.tool = cpu.Binlog + cpu.Client
	return used, err
}

// applyReplay applies the input with binlog-replay, in this process, with
// m.workers workers, through proxy when there is one.
func applyReplay(ctx context.Context, o *Options, in *input, tgt *sandbox.Server, m method, proxy *netdelay.Proxy) (usage, error) {
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.Select.StartPosition, ro.Apply.Workers = in.files, tgt.DSN(""), in.start, m.workers
	ro.Apply.GroupTxns, ro.Apply.Compact = m.groupTxns, m.compact
	if proxy != nil {
		ro.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprintf(":%d)", tgt.Port), fmt.Sprintf(":%d)", proxy.Addr().Port), 1)
	}
	ro.Report.LogValues = o.LogValues
	if m.apply != "" {
		ro.Apply.Mode = m.apply
	}
	mt := startMeter(tgt.Pid)
	sum, err := replay.Run(ctx, ro, o.Log)
	used := mt.stop()
	used.tool = used.self
	switch {
	case err == nil && sum.Applied != uint64(in.txns):
		err = fmt.Errorf("binlog-replay applied %d transactions of %d (stopped: %s)", sum.Applied, in.txns, sum.StopReason)
	case err == nil && m.apply != "" && sum.Apply != m.apply:
		err = fmt.Errorf("binlog-replay --apply %s applied row events by %s", m.apply, sum.Apply)
	}
	return used, err
}

// applyLimitMethod applies the input as the limit: the packets are
// prepared and the session opened before the clock starts.
func applyLimitMethod(ctx context.Context, in *input, tgt *sandbox.Server, proxy *netdelay.Proxy) (usage, error) {
	dsn := limitDSN("unix", tgt.Socket)
	if proxy != nil {
		dsn = limitDSN("tcp", proxy.Addr().String())
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return usage{}, fmt.Errorf("limit: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return usage{}, fmt.Errorf("limit: connect to the target: %w", err)
	}
	defer conn.Close()
	var maxPacket int
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return usage{}, fmt.Errorf("limit: %w", err)
	}
	packets, err := in.limitPackets(ctx, maxPacket, schema.NewCache(db))
	if err != nil {
		return usage{}, err
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION autocommit=0"); err != nil {
		return usage{}, fmt.Errorf("limit: %w", err)
	}
	m := startMeter(tgt.Pid)
	err = applyLimit(ctx, conn, packets)
	used := m.stop()
	used.tool = used.self
	return used, err
}
