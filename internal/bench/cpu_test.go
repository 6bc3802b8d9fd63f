package bench

import (
	"math"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestParseProcStat reads utime and stime (fields 14 and 15) after a
// command name holding spaces and parentheses.
func TestParseProcStat(t *testing.T) {
	stat := "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 33 0 1234 100000 200 ..."
	got, err := parseProcStat([]byte(stat))
	if err != nil || got != 325 {
		t.Errorf("parseProcStat = %d, %v; want 325 ticks", got, err)
	}
	for _, bad := range []string{"", "4242 no parenthesis", "4242 (short) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
}

// TestParseMachineStat sums the cpu line's first eight fields, busy
// being all but idle and iowait.
func TestParseMachineStat(t *testing.T) {
	stat := "cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\nintr 1\n"
	busy, total, err := parseMachineStat([]byte(stat))
	if err != nil || busy != 161 || total != 981 {
		t.Errorf("parseMachineStat = %d, %d, %v; want 161 busy of 981", busy, total, err)
	}
	if _, _, err := parseMachineStat([]byte("cpu0 1 2 3 4\n")); err == nil {
		t.Error("a first line that is not the total was accepted")
	}
}

// spin keeps the calling goroutine on the CPU until this process has
// used d more of it.
func spin(t *testing.T, d time.Duration) {
	start, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	x := 0.0
	for {
		for i := range 100000 {
			x += math.Sqrt(float64(i))
		}
		if now, _ := selfCPU(); now-start >= d {
			break
		}
	}
	runtime.KeepAlive(x)
}

// TestMeter spins for 300 ms of CPU in this process, measured as if it
// were the target (its pid) and the tool: both counters, and the
// machine's busy time, must see it (less a tick of rounding). Other work
// on the machine only adds to them.
func TestMeter(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	m := startMeter(os.Getpid())
	spin(t, 300*time.Millisecond)
	u := m.stop()
	u.tool = u.self
	c := u.cpu()
	t.Logf("wall %s, target %s, self %s, machine %d of %d ticks busy: %+v", u.wall, u.target, u.self, u.busy, u.total, c)
	if !u.ok || c == nil {
		t.Fatal("not measured")
	}
	if u.target < 280*time.Millisecond || u.self < 300*time.Millisecond || u.busy < 28 {
		t.Errorf("300 ms of CPU counted as %s in /proc, %s by getrusage, %d busy ticks", u.target, u.self, u.busy)
	}
	if c.Target <= 0 || c.Tool <= 0 || c.MachineBusy <= 0 || c.MachineBusy > 100 {
		t.Errorf("a spin measured as %+v", c)
	}
}

// TestUsageSum adds two measured applies and turns them into cores: CPU
// seconds over apply seconds, the rest of the busy time as other.
func TestUsageSum(t *testing.T) {
	var u usage
	u.add(usage{wall: time.Second, target: 1500 * time.Millisecond, tool: 300 * time.Millisecond, busy: 190, total: 200, ok: true})
	u.add(usage{wall: time.Second, target: 500 * time.Millisecond, tool: 100 * time.Millisecond, proxy: 200 * time.Millisecond,
		busy: 150, total: 200, ok: true})
	c := u.cpu()
	want := CPU{Target: 1, Tool: 0.2, Proxy: 0.1, Other: 0.4, MachineBusy: 85}
	if c == nil || math.Abs(c.Target-want.Target)+math.Abs(c.Tool-want.Tool)+math.Abs(c.Proxy-want.Proxy)+
		math.Abs(c.Other-want.Other)+math.Abs(c.MachineBusy-want.MachineBusy) > 1e-9 {
		t.Errorf("cpu = %+v, want %+v", c, want)
	}
	u.add(usage{wall: time.Second}) // not measured
	if u.cpu() != nil {
		t.Error("a sum with an unmeasured apply has a CPU")
	}
}
