package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
)

// requireServer skips t when MariaDB is missing, and fails it under CI.
func requireServer(t *testing.T) {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB is required under CI: %v", err)
		}
		t.Skip(err)
	}
}

// tiny returns options for a run of a few seconds per profile.
func tiny() Options {
	o := DefaultOptions()
	o.Workload.Scale, o.Workload.Txns, o.Workload.Threads, o.Workload.Tables, o.Methods.Workers, o.Env.Durable = 50, 120, 2, 2, []int{1, 4}, false
	return o
}

// checkNoServers fails t if a mariadbd started by this process still runs.
func checkNoServers(t *testing.T) {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[i+1:])
		if strings.Contains(s[:i], "(mariadbd") && len(fields) > 1 && fields[1] == me && fields[0] != "Z" {
			t.Errorf("a mariadbd started by this test still runs: %s", strings.TrimSpace(s[:i+1]))
		}
	}
}

// TestBenchTiny runs every profile end to end at a tiny scale with every
// method, native replication and the limit included: each must be
// measured, with the CPU it used, and verified.
func TestBenchTiny(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Workload.Profiles = workload.Profiles()
	o.Workload.Txns = 40
	o.Methods.Native, o.Methods.Limit = true, true
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rep, o, 3+len(o.Methods.Workers)) // anchor, workers, native, limit
	for _, p := range rep.Profiles {
		if k := p.Results[len(p.Results)-2].Kind; k != KindNative {
			t.Errorf("profile %s: last but one method is %s, want native", p.Profile, k)
		}
		if k := p.Results[len(p.Results)-1].Kind; k != KindLimit {
			t.Errorf("profile %s: last method is %s, want the limit", p.Profile, k)
		}
	}
	checkNoServers(t)
}

// checkAll checks that rep holds every profile of o with n results each,
// every one verified, timed and with its CPU measured, and that its text
// report says so.
func checkAll(t *testing.T, rep *Report, o Options, n int) {
	t.Helper()
	if len(rep.Profiles) != len(o.Workload.Profiles) {
		t.Fatalf("%d profiles reported, want %d", len(rep.Profiles), len(o.Workload.Profiles))
	}
	for _, p := range rep.Profiles {
		if len(p.Results) != n || p.Txns == 0 || p.Rows == 0 || p.BinlogBytes == 0 {
			t.Errorf("profile %s: %d results, %d transactions, %d rows, %d bytes", p.Profile, len(p.Results), p.Txns, p.Rows, p.BinlogBytes)
		}
		for _, r := range p.Results {
			if !r.Verified || r.Median <= 0 || r.Ratio <= 0 || r.TxnsPerSec <= 0 {
				t.Errorf("profile %s, %s: verified=%v median=%v ratio=%v txn/s=%v %s%s", p.Profile, r.Method, r.Verified, r.Median, r.Ratio, r.TxnsPerSec, r.Error, r.Problem)
			}
			// The target's and the machine's CPU counters tick every
			// 10 ms: a tiny apply may see none. So may the limit's
			// session, which only sends packets prepared in advance (a
			// CI run on a busy machine saw none, its groups compacted);
			// native replication has no client.
			wantTool := r.Kind == KindAnchor || r.Kind == KindReplay
			if c := r.CPU; c == nil || c.Target < 0 || c.MachineBusy < 0 || c.MachineBusy > 100 || (wantTool && c.Tool <= 0) ||
				(r.Kind == KindNative && c.Tool != 0) || c.Tool < 0 {
				t.Errorf("profile %s, %s: CPU %+v", p.Profile, r.Method, c)
			}
		}
	}
	var out strings.Builder
	if err := WriteText(&out, rep); err != nil || !strings.Contains(out.String(), AnchorMethod) ||
		strings.Contains(out.String(), "FAILED") || strings.Count(out.String(), " yes\n") != len(o.Workload.Profiles)*n {
		t.Errorf("text report: %v\n%s", err, out.String())
	}
}

// TestBenchRemoteSlowTarget runs every method against targets reached
// through a latency proxy and whose fsyncs are slowed: each must be
// measured and verified, the proxy's CPU counted, and the report must say
// how the targets were set up. The times are not checked.
func TestBenchRemoteSlowTarget(t *testing.T) {
	requireServer(t)
	if _, err := exec.LookPath("cc"); err != nil && os.Getenv("CC") == "" {
		t.Skip("--commit-latency needs a C compiler")
	}
	o := tiny()
	o.Workload.Profiles = []workload.Profile{workload.OLTPSpecial}
	o.Methods.Native, o.Methods.Limit, o.Env.Durable = true, true, true
	o.Env.TargetLatency, o.Env.CommitLatency = 2*time.Millisecond, time.Millisecond
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rep, o, 3+len(o.Methods.Workers))
	for _, r := range rep.Profiles[0].Results {
		if c := r.CPU; c != nil && r.Kind != KindNative && c.Proxy <= 0 {
			t.Errorf("%s: no CPU counted for the latency proxy: %+v", r.Method, c)
		}
		if r.ProxyRoundTripMs < 2 {
			t.Errorf("%s: the proxy measured a round trip of %v ms, below the 2 ms asked for", r.Method, r.ProxyRoundTripMs)
		}
	}
	if rep.TargetLatencyMs != 2 || rep.CommitLatencyMs != 1 {
		t.Errorf("report: target latency %v ms, commit latency %v ms", rep.TargetLatencyMs, rep.CommitLatencyMs)
	}
	var out strings.Builder
	if err := WriteText(&out, rep); err != nil || !strings.Contains(out.String(), "2ms added to each round trip") ||
		!strings.Contains(out.String(), "each fsync and fdatasync 1ms slower") || !strings.Contains(out.String(), "proxy cpu") {
		t.Errorf("text report: %v\n%s", err, out.String())
	}
	checkNoServers(t)
}

// TestBenchDetectsCorruption changes one row on one method's target after
// its apply: that method must be reported as not verified, the others not,
// and Run must say so with ErrNotVerified.
func TestBenchDetectsCorruption(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Workload.Profiles = []workload.Profile{workload.OLTP}
	victim := "binlog-replay --workers 4"
	o.Tamper = func(ctx context.Context, method string, db *sql.DB) error {
		if method != victim {
			return nil
		}
		_, err := db.ExecContext(ctx, "UPDATE wl_oltp.sbtest1 SET c = CONCAT(c, 'x') ORDER BY id LIMIT 1")
		return err
	}
	rep, err := Run(t.Context(), o)
	if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), victim) {
		t.Fatalf("Run returned %v, want ErrNotVerified naming %q", err, victim)
	}
	if rep.Verified() {
		t.Fatal("a corrupted target was reported as verified")
	}
	for _, r := range rep.Profiles[0].Results {
		if (r.Method == victim) == r.Verified {
			t.Errorf("%s: verified=%v %s", r.Method, r.Verified, r.Problem)
		}
	}
	var out strings.Builder
	if err := WriteText(&out, rep); err != nil || !strings.Contains(out.String(), "VERIFICATION FAILED: profile oltp, "+victim) ||
		!strings.Contains(out.String(), "sbtest1") {
		t.Errorf("text report does not name the corruption: %v\n%s", err, out.String())
	}
}

// TestBenchApplySQL measures binlog-replay with row events passed through
// and applied as SQL, beside each other: both rows reported, named and
// verified, the SQL one checked to have applied its rows as SQL.
func TestBenchApplySQL(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Workload.Profiles, o.Methods.Workers = []workload.Profile{workload.OLTP}, []int{2}
	o.Methods.Apply = []replay.ApplyMode{replay.ApplyBinlog, replay.ApplySQL}
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Profiles[0].Results
	if len(res) != 3 || res[1].Method != "binlog-replay --workers 2" || res[2].Method != "binlog-replay --workers 2 --apply sql" ||
		res[2].Apply != replay.ApplySQL || chartLabel(res[2]) != "binlog-replay, 2 workers, SQL" {
		t.Fatalf("results %+v: want the anchor, then --workers 2 passed through and as SQL", res)
	}
	for _, r := range res {
		if !r.Verified || r.Ratio <= 0 {
			t.Errorf("%s: verified=%v ratio=%v %s%s", r.Method, r.Verified, r.Ratio, r.Error, r.Problem)
		}
	}
}

// TestBenchUserBinlogs keeps a generated run's base and binlogs, then
// benchmarks them as a user's own (no source): targets are checked against
// the anchor's, and a corrupted target is still caught.
func TestBenchUserBinlogs(t *testing.T) {
	requireServer(t)
	o := tiny()
	o.Workload.Profiles, o.Methods.Workers = []workload.Profile{workload.OLTP}, []int{2}
	o.Dir, o.Keep = t.TempDir(), true
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkNoServers(t)
	files, err := logfile.Resolve([]string{filepath.Join(o.Dir, "oltp-source")})
	if err != nil {
		t.Fatalf("kept binlogs: %v", err)
	}
	for _, name := range []string{"oltp-base/mysql", "oltp-anchor-1/data/wl_oltp", "oltp-replay-w2-1/data/wl_oltp"} {
		if _, err := os.Stat(filepath.Join(o.Dir, name)); err != nil {
			t.Errorf("kept %s: %v", name, err)
		}
	}

	u := DefaultOptions()
	u.Existing.Binlogs, u.Existing.Base, u.Existing.Start, u.Env.Durable = files, filepath.Join(o.Dir, "oltp-base"), rep.Profiles[0].Start, false
	u.Methods.Workers, u.Methods.Repeat = []int{1, 4}, 2
	u.Tamper = func(ctx context.Context, method string, db *sql.DB) error {
		if method != "binlog-replay --workers 4" {
			return nil
		}
		_, err := db.ExecContext(ctx, "DELETE FROM wl_oltp.sbtest2 ORDER BY id LIMIT 1")
		return err
	}
	urep, err := Run(t.Context(), u)
	if !errors.Is(err, ErrNotVerified) {
		t.Fatalf("user binlogs with a corrupted target: Run returned %v, want ErrNotVerified", err)
	}
	p := urep.Profiles[0]
	if p.CheckedAgainst != "anchor" || p.Txns != rep.Profiles[0].Txns || len(p.Results) != 3 {
		t.Fatalf("user binlogs: checked against %q, %d transactions (generated %d), %d results",
			p.CheckedAgainst, p.Txns, rep.Profiles[0].Txns, len(p.Results))
	}
	want := []bool{true, true, false} // anchor (repeat 2 checked against repeat 1), w1, corrupted w4
	for i, r := range p.Results {
		if r.Verified != want[i] || len(r.Seconds) != 2 || r.IsReference != (i == 0) {
			t.Errorf("%s: verified=%v (want %v), %d runs, reference=%v %s%s", r.Method, r.Verified, want[i], len(r.Seconds), r.IsReference, r.Error, r.Problem)
		}
	}
	checkNoServers(t)
}

// cancelWriter cancels a context when a line containing at appears.
type cancelWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	at     string
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.at)) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// TestBenchCancel cancels a run while a method is starting: Run must stop
// with the context's error, leaving no server running and no temp dir. The
// run gets a temp dir of its own (TMPDIR): other packages' tests run bench
// at the same time and make their own binlog-replay-bench-* dirs in the
// shared one.
func TestBenchCancel(t *testing.T) {
	requireServer(t)
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pattern := filepath.Join(os.TempDir(), "binlog-replay-bench-*")
	before, _ := filepath.Glob(pattern)
	o := tiny()
	o.Workload.Profiles = []workload.Profile{workload.HotRows}
	w := &cancelWriter{at: "binlog-replay --workers 4", cancel: cancel}
	o.Log = w
	rep, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled\n%s", err, w.buf.String())
	}
	if len(rep.Profiles) != 1 || len(rep.Profiles[0].Results) != 2 {
		t.Errorf("the report should hold the anchor and workers 1, measured before the cancel: %+v", rep.Profiles)
	}
	checkNoServers(t)
	after, _ := filepath.Glob(pattern)
	for _, dir := range after {
		if !slices.Contains(before, dir) {
			t.Errorf("left behind: %s", dir)
		}
	}
}

// TestReportJSON checks the JSON field names machines read.
func TestReportJSON(t *testing.T) {
	data, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"median_seconds":40`, `"speedup_vs_anchor":4`, `"verified":false`, `"checked_against":"source"`, `"kind":"native"`} {
		if !bytes.Contains(data, []byte(field)) {
			t.Errorf("JSON report lacks %s: %s", field, data)
		}
	}
}

// TestValidate checks that contradictory options are refused.
func TestValidate(t *testing.T) {
	bad := map[string]func(o *Options){
		"no profiles":         func(o *Options) { o.Workload.Profiles = nil },
		"repeat 0":            func(o *Options) { o.Methods.Repeat = 0 },
		"negative workers":    func(o *Options) { o.Methods.Workers = []int{4, -1} },
		"negative group size": func(o *Options) { o.Methods.GroupTxns = []int{0, -1} },
		"binlogs, no base":    func(o *Options) { o.Existing.Binlogs = []string{"x.000001"} },
		"base, no binlogs":    func(o *Options) { o.Existing.Base = "/data" },
		"native with base": func(o *Options) {
			o.Existing.Binlogs, o.Existing.Base, o.Methods.Native = []string{"x.000001"}, "/data", true
		},
		"unknown native mode": func(o *Options) { o.Methods.Native, o.Methods.NativeMode = true, "fast" },
		"negative latency":    func(o *Options) { o.Env.TargetLatency = -time.Millisecond },
		"slow commits, fast":  func(o *Options) { o.Env.CommitLatency, o.Env.Durable = time.Millisecond, false },
		"apply auto":          func(o *Options) { o.Methods.Apply = []replay.ApplyMode{replay.ApplyBinlog, replay.ApplyAuto} },
	}
	for name, change := range bad {
		o := DefaultOptions()
		change(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestMethodsGroupSizes: every worker count is measured with every group
// size, each a method of its own name and directory.
func TestMethodsGroupSizes(t *testing.T) {
	o := DefaultOptions()
	o.Methods.Workers, o.Methods.GroupTxns = []int{0, 8}, []int{0, 64}
	var names []string
	slugs := map[string]bool{}
	for _, m := range o.methods() {
		if m.kind != KindReplay {
			continue
		}
		names = append(names, m.name)
		if slugs[m.slug()] {
			t.Errorf("slug %s twice", m.slug())
		}
		slugs[m.slug()] = true
	}
	want := []string{"binlog-replay --workers 0", "binlog-replay --workers 0 --group-txns 64",
		"binlog-replay --workers 8", "binlog-replay --workers 8 --group-txns 64"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("methods %q, want %q", names, want)
	}
}

// TestMethodsCompact checks that --compact off,on measures every
// binlog-replay method without and with compaction, each named, labelled
// and slugged apart.
func TestMethodsCompact(t *testing.T) {
	o := DefaultOptions()
	o.Methods.Workers, o.Methods.Compact = []int{0, 8}, []bool{false, true}
	o.Methods.Apply = []replay.ApplyMode{replay.ApplyBinlog, replay.ApplySQL}
	var names, labels []string
	slugs := map[string]bool{}
	for _, m := range o.methods() {
		if m.kind != KindReplay {
			continue
		}
		names = append(names, m.name)
		labels = append(labels, chartLabel(Result{Kind: m.kind, Workers: m.workers, Apply: m.apply, Compact: m.compact}))
		if slugs[m.slug()] {
			t.Errorf("slug %s twice", m.slug())
		}
		slugs[m.slug()] = true
	}
	want := []string{"binlog-replay --workers 0 --compact=false", "binlog-replay --workers 0",
		"binlog-replay --workers 0 --apply sql --compact=false", "binlog-replay --workers 0 --apply sql",
		"binlog-replay --workers 8 --compact=false", "binlog-replay --workers 8",
		"binlog-replay --workers 8 --apply sql --compact=false", "binlog-replay --workers 8 --apply sql"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("methods %q, want %q", names, want)
	}
	if labels[0] != "binlog-replay, workers auto, no compaction" || labels[1] != "binlog-replay, workers auto" ||
		labels[2] != "binlog-replay, workers auto, SQL, no compaction" {
		t.Errorf("chart labels %q", labels)
	}
}
