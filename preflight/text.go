package preflight

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
)

// WriteText writes the report for people: the estimate first, then every
// check with what it is, what it costs, and what to set during and after
// the recovery.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	t, b := r.Target, r.Binlogs
	where := "not on this machine (or its datadir could not be seen from here)"
	if t.Local {
		where = "on this machine, datadir " + t.Vars["datadir"]
	}
	fmt.Fprintf(bw, "target: %s %s, account %s, %s\n", flavor(t), t.Version, t.User, where)
	fmt.Fprintf(bw, "binlogs to apply: %d transactions (%d row, %d statement, %d DDL), %s; largest transaction %s (%s)\n",
		b.Transactions, b.RowTxns, b.StmtTxns, b.DDLTxns, bytesize.Human(b.Bytes), bytesize.Human(b.LargestTxn.Bytes), b.LargestTxn.At)
	if b.ReadError != "" {
		fmt.Fprintf(bw, "  the reading stopped early: %s\n", b.ReadError)
	}
	if r.Parallelism != nil && r.CriticalPath != nil {
		fmt.Fprintf(bw, "parallelism (plan): critical path %.0f%% of the rows; bound with %d workers %.1fx\n",
			100*r.CriticalPath.Share, r.Parallelism.Workers, r.Parallelism.ByRow)
	}
	if p := r.Probe; p.Skipped == "" {
		fmt.Fprintf(bw, "probe: in the scratch schema %s (dropped)\n", p.Schema)
	}
	e := r.ETA
	fmt.Fprintln(bw)
	if e.Seconds > 0 {
		fmt.Fprintf(bw, "ESTIMATE: the replay should take about %s (%s to %s) with %d workers\n",
			dur(e.Seconds), dur(e.LowSeconds), dur(e.HighSeconds), e.Workers)
	} else {
		fmt.Fprintln(bw, "ESTIMATE: none (nothing measured)")
	}
	for _, s := range e.Basis {
		writeWrapped(bw, "  - ", "    ", s)
	}
	if e.Excluded != "" {
		writeWrapped(bw, "  - ", "    ", "not included: "+e.Excluded)
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "checks:")
	for _, st := range []Status{Fail, Warn, Unknown, OK} {
		for _, c := range r.Checks {
			if c.Status != st {
				continue
			}
			writeWrapped(bw, fmt.Sprintf("  %-7s ", label(c.Status)), "          ", c.Name+": "+c.Finding)
		}
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "what each is, and what to set:")
	for _, c := range r.Checks {
		fmt.Fprintf(bw, "\n  %s = %s\n", c.Name, c.Value)
		for _, part := range []struct{ key, text string }{
			{"what", c.What}, {"cost", c.Cost}, {"during", c.During}, {"after", c.After}, {"grant", c.Fix},
		} {
			if part.text != "" {
				writeWrapped(bw, fmt.Sprintf("    %-7s ", part.key+":"), "            ", part.text)
			}
		}
	}
	fmt.Fprintln(bw)
	fails, warns := len(r.Failed()), len(r.Warnings())
	switch {
	case fails > 0:
		fmt.Fprintf(bw, "%d check(s) FAILED: the replay would fail on them; fix them first. %d warning(s).\n", fails, warns)
	case warns > 0:
		fmt.Fprintf(bw, "no check failed; %d warning(s).\n", warns)
	default:
		fmt.Fprintln(bw, "every check passed.")
	}
	return bw.Flush()
}

// label is a status as printed.
func label(s Status) string {
	switch s {
	case Fail:
		return "FAIL"
	case Warn:
		return "WARN"
	case Unknown:
		return "UNKNOWN"
	}
	return "ok"
}

func flavor(t *Target) string {
	if t.MariaDB {
		return "MariaDB"
	}
	return "MySQL"
}

// dur formats seconds for people.
func dur(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// writeWrapped writes s wrapped at 100 columns, the first line after
// first, the others after indent.
func writeWrapped(w io.Writer, first, indent, s string) {
	const width = 100
	line := first
	n := len(first)
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len(word) > width {
			fmt.Fprintln(w, line)
			line, n = indent+word, len(indent)+len(word)
			continue
		}
		if i > 0 {
			line += " "
			n++
		}
		line += word
		n += len(word)
	}
	fmt.Fprintln(w, line)
}
