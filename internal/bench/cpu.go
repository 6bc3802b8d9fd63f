package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat:
// USER_HZ, 100 on every Linux architecture.
const userHZ = 100

// CPU is the processor time used while a method applied, over all its
// runs, in cores: CPU seconds per second of apply (a core busy all the
// time is 1). Other and MachineBusy tell whether the machine was
// saturated, and by whom.
type CPU struct {
	// Target is the target server's process, all of its threads (for
	// native replication, its appliers too).
	Target float64 `json:"target_cores"`
	// Tool is the applying client's: mariadb-binlog and mariadb for the
	// anchor; this process for binlog-replay (which runs in it) and the
	// limit, less the latency proxy's share; 0 for native replication,
	// whose appliers are the target's threads.
	Tool float64 `json:"tool_cores"`
	// Proxy is the --target-latency proxy's (it runs in this process).
	Proxy float64 `json:"proxy_cores,omitempty"`
	// Other is the rest of what the machine ran meanwhile: other
	// processes, and this process's own work for the anchor.
	Other float64 `json:"other_cores"`
	// MachineBusy is the share, in percent, of the machine's CPU time
	// (every core) that was not idle.
	MachineBusy float64 `json:"machine_busy_percent"`
}

// usage is what one apply used, or the sum over several.
type usage struct {
	wall                time.Duration
	target, tool, proxy time.Duration
	// self is this process's CPU time (binlog-replay, the proxy, the
	// bench's own polling).
	self time.Duration
	// busy and total are the machine's non-idle and total CPU time, in
	// USER_HZ ticks over every core.
	busy, total uint64
	// ok is false when the counters could not be read (not Linux).
	ok bool
	// rtt sums the round trips the latency proxy measured, over rttN
	// applies.
	rtt  time.Duration
	rttN int
}

// add adds v to u; the sum is ok only when both are.
func (u *usage) add(v usage) {
	ok := v.ok && (u.ok || u.wall == 0)
	u.wall += v.wall
	u.target += v.target
	u.tool += v.tool
	u.proxy += v.proxy
	u.self += v.self
	u.busy += v.busy
	u.total += v.total
	u.rtt += v.rtt
	u.rttN += v.rttN
	u.ok = ok
}

// cpu returns u in cores, nil when it was not measured. The target's and
// the machine's counters tick every 10 ms: an apply of a few ticks is
// measured coarsely.
func (u usage) cpu() *CPU {
	if !u.ok || u.wall <= 0 {
		return nil
	}
	wall := u.wall.Seconds()
	c := &CPU{
		Target: u.target.Seconds() / wall,
		Tool:   u.tool.Seconds() / wall,
		Proxy:  u.proxy.Seconds() / wall,
	}
	if u.total > 0 {
		c.MachineBusy = 100 * float64(u.busy) / float64(u.total)
	}
	c.Other = max(0, float64(u.busy)/userHZ/wall-c.Target-c.Tool-c.Proxy)
	return c
}

// meter measures one apply: its wall time and the CPU counters from its
// start to its end.
type meter struct {
	pid   int
	begin time.Time
	start cpuSample
	err   error
}

// cpuSample holds the CPU counters at one moment.
type cpuSample struct {
	target, self time.Duration
	busy, total  uint64
}

// startMeter starts measuring, with pid the target server's process.
func startMeter(pid int) *meter {
	m := &meter{pid: pid}
	m.start, m.err = sampleCPU(pid)
	m.begin = time.Now()
	return m
}

// stop returns what was used since startMeter; tool and proxy are the
// caller's to fill in.
func (m *meter) stop() usage {
	u := usage{wall: time.Since(m.begin)}
	end, err := sampleCPU(m.pid)
	if m.err != nil || err != nil {
		return u
	}
	u.target = end.target - m.start.target
	u.self = end.self - m.start.self
	u.busy, u.total = end.busy-m.start.busy, end.total-m.start.total
	u.ok = true
	return u
}

// sampleCPU reads the counters: process pid's, this process's and the
// machine's.
func sampleCPU(pid int) (cpuSample, error) {
	var s cpuSample
	var err error
	if s.target, err = procCPU(pid); err != nil {
		return s, err
	}
	if s.self, err = selfCPU(); err != nil {
		return s, err
	}
	s.busy, s.total, err = machineCPU()
	return s, err
}

// procCPU returns the user and system time of process pid, all of its
// threads, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	ticks, err := parseProcStat(data)
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseProcStat returns utime+stime, in ticks, from the text of a
// /proc/<pid>/stat file: "pid (comm) state ppid ...", whose 14th and
// 15th fields they are. comm may hold spaces and parentheses: the fields
// are counted from the last ')'.
func parseProcStat(data []byte) (uint64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is the 3rd field (state): utime and stime are 14th, 15th.
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields in /proc stat, want at least 15", len(fields)+2)
	}
	var sum uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// selfCPU returns this process's user and system time.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// machineCPU returns the machine's busy and total CPU time, in ticks
// summed over every core, from /proc/stat.
func machineCPU() (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read the machine's CPU time: %w", err)
	}
	return parseMachineStat(data)
}

// parseMachineStat reads the "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal (then guest and guest_nice,
// already counted in user and nice). Busy is all but idle and iowait.
func parseMachineStat(data []byte) (busy, total uint64, err error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	for i, f := range fields[1:min(len(fields), 9)] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// loadAverage returns the 1-minute load average, or -1 when unknown.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(data), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}
