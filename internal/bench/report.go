package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the conditions of the run, then one table per
// profile: method, median apply time and spread (min..max over the
// repeats), transactions and row changes per second, speed-up over the
// anchor, the CPU used during the applies, and whether the target was
// verified. Failures and differences follow the tables, in full. It
// returns the first write error.
func WriteText(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "%s\n", conditions(r))
	proxy := r.TargetLatencyMs > 0
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, p := range r.Profiles {
		against := "the source"
		if p.CheckedAgainst == "anchor" {
			against = "the anchor's target (no source)"
		}
		fmt.Fprintf(tw, "\nprofile %s: %d transactions, %d row changes, %.1f MiB of binlog; targets checked against %s\n",
			p.Profile, p.Txns, p.Rows, float64(p.BinlogBytes)/(1<<20), against)
		head := "method\tapply s\tspread s\ttxn/s\trows/s\tspeed-up\t"
		if proxy {
			head += "rtt ms\t"
		}
		head += "target cpu\ttool cpu\t"
		if proxy {
			head += "proxy cpu\t"
		}
		fmt.Fprintln(tw, head+"other cpu\tbusy\tverified\t")
		for _, res := range p.Results {
			spread := fmt.Sprintf("%.2f..%.2f", res.Seconds[0], res.Seconds[len(res.Seconds)-1])
			rate, rows, ratio := "-", "-", "-"
			if res.Error == "" && res.Median > 0 {
				rate, rows = fmt.Sprintf("%.0f", res.TxnsPerSec), fmt.Sprintf("%.0f", res.RowsPerSec)
			}
			if res.Ratio > 0 {
				ratio = fmt.Sprintf("%.1fx", res.Ratio)
			}
			rtt := ""
			if proxy {
				rtt = fmt.Sprintf("%.2f\t", res.ProxyRoundTripMs)
			}
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\t%s\t%s%s%s\t\n", res.Method, res.Median, spread, rate, rows, ratio,
				rtt, cpuColumns(res, proxy), verdict(res))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if proxy {
		fmt.Fprintln(w, "\nrtt: the round trip the latency proxy added, as it measured it (native: the untimed fetch from the source)")
	} else {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "cpu: cores used during the applies (CPU seconds per second of apply): target = the target's mariadbd;"+
		"\n  tool = the applying client (mariadb-binlog and mariadb; binlog-replay or the limit's session, in this process);"+
		"\n  other = the rest of the machine; busy = the share of all the machine's cores that was busy")
	for _, p := range r.Profiles {
		for _, res := range p.Results {
			if res.Error != "" {
				fmt.Fprintf(w, "\nAPPLY FAILED: profile %s, %s:\n%s\n", p.Profile, res.Method, res.Error)
			}
			if res.Problem != "" {
				fmt.Fprintf(w, "\nVERIFICATION FAILED: profile %s, %s: the target differs from the %s:\n%s\n",
					p.Profile, res.Method, p.CheckedAgainst, res.Problem)
			}
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// conditions describes how the targets were set up and how loaded the
// machine was.
func conditions(r *Report) string {
	commit := "fast commits (innodb_flush_log_at_trx_commit=2)"
	if r.Durable {
		commit = "durable commits"
	}
	if r.CommitLatencyMs > 0 {
		commit += fmt.Sprintf(", each fsync and fdatasync %s slower", fmtMs(r.CommitLatencyMs))
	}
	network := "over the unix socket"
	if r.TargetLatencyMs > 0 {
		network = fmt.Sprintf("over TCP with %s added to each round trip", fmtMs(r.TargetLatencyMs))
	}
	s := fmt.Sprintf("targets: %s; reached %s; %d CPUs", commit, network, r.CPUs)
	if r.LoadStart >= 0 && r.LoadEnd >= 0 {
		s += fmt.Sprintf("; load average %.2f at the start, %.2f at the end", r.LoadStart, r.LoadEnd)
	}
	return s
}

// fmtMs prints a duration given in milliseconds.
func fmtMs(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).String()
}

// cpuColumns returns the CPU cells of res, each followed by a tab.
func cpuColumns(res Result, proxy bool) string {
	n := 4
	if proxy {
		n++
	}
	c := res.CPU
	if c == nil {
		return strings.Repeat("-\t", n)
	}
	tool := fmt.Sprintf("%.2f", c.Tool)
	if res.Kind == KindNative {
		tool = "-" // its appliers are the target's threads
	}
	s := fmt.Sprintf("%.2f\t%s\t", c.Target, tool)
	if proxy {
		s += fmt.Sprintf("%.2f\t", c.Proxy)
	}
	return s + fmt.Sprintf("%.2f\t%.0f%%\t", c.Other, c.MachineBusy)
}

// verdict is the verified column of res.
func verdict(res Result) string {
	v := "yes"
	switch {
	case res.Error != "":
		v = "FAILED"
	case !res.Verified:
		v = "NO"
	}
	if res.IsReference {
		if len(res.Seconds) == 1 {
			return "reference"
		}
		return "reference, " + v
	}
	return v
}
