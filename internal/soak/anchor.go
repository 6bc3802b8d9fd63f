package soak

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
)

// anchorRange is the part of the binlogs the anchor applies: the files
// from the start file to the one holding the first transaction not
// applied, from StartPos in the first file to StopPos (0: the end) in the
// last.
type anchorRange struct {
	Files    []string
	StartPos uint64
	StopPos  uint64
	// NoDomains drops the lines of mariadb-binlog's output that switch
	// the session's GTID domain, for a server that logs no binlog (they
	// change nothing there): one client session holding temporary tables
	// of two domains may not switch (error 1953), as no source session
	// did, and a binlog interleaving domains stops the anchor otherwise.
	NoDomains bool
}

// domainSwitch starts the line of mariadb-binlog's output that sets the
// session's GTID domain.
const domainSwitch = "/*M!100001 SET @@session.gtid_domain_id="

// rangeFor returns the range that applies txns[:n] of files (from
// startPos), and false when n is 0 (nothing to apply). It stops where
// txns[n] starts, or where the last transaction ends: a live source's
// files may have grown since txns was read (seed 126225: the
// soak's own check of the restarted source opened a MEMORY table, and
// the server logged its TRUNCATE, which an anchor reading to the end of
// the files applied).
func rangeFor(files []string, startPos uint64, txns []binlogtext.BinTxn, n int) (anchorRange, bool) {
	if n == 0 {
		return anchorRange{}, false
	}
	stopFile, stopPos := txns[n-1].File, txns[n-1].End
	if n < len(txns) {
		stopFile, stopPos = txns[n].File, txns[n].Start
	}
	r := anchorRange{Files: files, StartPos: startPos, StopPos: stopPos}
	for i, f := range files {
		if filepath.Base(f) == stopFile {
			r.Files = files[:i+1]
			break
		}
	}
	return r, true
}

// anchorRanges are the ranges an anchor applies, in order: one, or the
// ranges before and after a transaction it skips (the accident, which the
// replay skips with --exclude-gtids).
type anchorRanges []anchorRange

// rangesFor returns the ranges that apply txns[:n] of files (from
// startPos) but txns[skip] (skip < 0: none).
func rangesFor(files []string, startPos uint64, txns []binlogtext.BinTxn, n, skip int) anchorRanges {
	if skip < 0 {
		return rangesSkipping(files, startPos, txns, n, n, n)
	}
	return rangesSkipping(files, startPos, txns, n, skip, skip+1)
}

// rangesSkipping returns the ranges that apply txns[:n] of files (from
// startPos) but txns[from:to] (none when from >= n).
func rangesSkipping(files []string, startPos uint64, txns []binlogtext.BinTxn, n, from, to int) anchorRanges {
	if from >= n || to <= from {
		if r, ok := rangeFor(files, startPos, txns, n); ok {
			return anchorRanges{r}
		}
		return nil
	}
	var out anchorRanges
	if r, ok := rangeFor(files, startPos, txns, from); ok {
		out = append(out, r)
	}
	after := txns[to-1]
	if r, ok := rangeFor(filesFrom(files, after.File), after.End, txns, n); ok {
		out = append(out, r)
	}
	return out
}

// withoutDomains returns rs with NoDomains set.
func (rs anchorRanges) withoutDomains() anchorRanges {
	out := make(anchorRanges, len(rs))
	for i, r := range rs {
		r.NoDomains = true
		out[i] = r
	}
	return out
}

// Command returns the anchor's shell pipelines, for reports.
func (rs anchorRanges) Command(socket string) string {
	rs = rs.bySession()
	cmds := make([]string, len(rs))
	for i, r := range rs {
		cmds[i] = r.Command(socket)
	}
	return strings.Join(cmds, " && ")
}

// bySession returns rs with each range cut where a file its server wrote
// as it started again begins (a source crash, FeatSourceCrash: its sessions
// ended without logging the drop of their temporary tables), so that each
// part is applied by a client session of its own, as a replica drops the
// temporary tables there; one session would keep them, and a later source
// session of the same thread id would find them.
func (rs anchorRanges) bySession() anchorRanges {
	var out anchorRanges
	for _, r := range rs {
		part := r
		part.Files, part.StopPos = nil, 0
		for i, f := range r.Files {
			if i > 0 && serverStart(f) {
				out = append(out, part)
				part = r
				part.Files, part.StartPos, part.StopPos = nil, 4, 0
			}
			part.Files = append(part.Files, f)
		}
		part.StopPos = r.StopPos
		out = append(out, part)
	}
	return out
}

// serverStart reports whether the binlog file at path is the first its
// server wrote as it started: its format description has a create time.
func serverStart(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4 + 19 + 56]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(b[4+19+52:]) != 0
}

// applyAnchors applies rs in order (applyAnchor), each part of a range
// between two server starts by a client of its own (bySession): the
// failed statements of all, their errors, the first error.
func applyAnchors(ctx context.Context, rs anchorRanges, socket, tmpDir string) (failed int, stderr string, err error) {
	var errs []string
	for _, r := range rs.bySession() {
		f, e, err := applyAnchor(ctx, r, socket, tmpDir)
		failed, errs = failed+f, append(errs, e)
		if err != nil {
			return failed, strings.Join(errs, ""), err
		}
	}
	return failed, strings.Join(errs, ""), nil
}

// wantErrors returns how many statements of txns[:n] but txns[skip] the
// source logged with an error code, and of those no session can run
// again (BinTxn.AnchorFails): the anchor fails them.
func wantErrors(txns []binlogtext.BinTxn, n, skip int) int {
	if skip < 0 {
		return wantErrorsSkipping(txns, n, n, n)
	}
	return wantErrorsSkipping(txns, n, skip, skip+1)
}

// wantErrorsSkipping is wantErrors for the anchor of rangesSkipping.
func wantErrorsSkipping(txns []binlogtext.BinTxn, n, from, to int) int {
	want := 0
	for i, t := range txns[:n] {
		if i < from || i >= to {
			want += t.ErrorCodes + t.AnchorFails
		}
	}
	return want
}

// args are mariadb-binlog's arguments for the range.
func (r anchorRange) args() []string {
	// Sequence numbers need not rise in a domain (gtid_strict_mode off
	// on the source): mariadb-binlog refuses that by default.
	a := []string{"--skip-gtid-strict-mode", fmt.Sprintf("--start-position=%d", r.StartPos)}
	if r.StopPos > 0 {
		a = append(a, fmt.Sprintf("--stop-position=%d", r.StopPos))
	}
	return append(a, r.Files...)
}

// Command returns the anchor's shell pipeline, for reports.
func (r anchorRange) Command(socket string) string {
	filter := ""
	if r.NoDomains {
		filter = " | grep -v -F '" + domainSwitch + "'"
	}
	return fmt.Sprintf("mariadb-binlog %s%s | mariadb --no-defaults --socket=%s --user=root --binary-mode --force --local-infile=1 '%s'",
		strings.Join(r.args(), " "), filter, socket, anchorInit)
}

// domainSwitchDropper writes what it is given to w, but for the lines
// that start with domainSwitch.
type domainSwitchDropper struct {
	w         io.Writer
	head      []byte // the start of the current line, until it tells
	skip, mid bool   // in a line dropped, or passed through
}

func (d *domainSwitchDropper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if d.skip || d.mid {
			end := len(p)
			if i := bytes.IndexByte(p, '\n'); i >= 0 {
				end = i + 1
			}
			if d.mid {
				if _, err := d.w.Write(p[:end]); err != nil {
					return 0, err
				}
			}
			if p[end-1] == '\n' {
				d.skip, d.mid = false, false
			}
			p = p[end:]
			continue
		}
		// At a line's start: gather enough of it to tell.
		for len(p) > 0 && len(d.head) < len(domainSwitch) {
			c := p[0]
			d.head, p = append(d.head, c), p[1:]
			if c == '\n' {
				break
			}
		}
		last := d.head[len(d.head)-1]
		switch {
		case string(d.head) == domainSwitch:
			d.skip = true
		case len(d.head) < len(domainSwitch) && last != '\n':
			continue // the rest of the line comes with the next write
		default:
			if _, err := d.w.Write(d.head); err != nil {
				return 0, err
			}
			d.mid = last != '\n'
		}
		d.head = d.head[:0]
	}
	return n, nil
}

// Flush writes the start of a last line without a newline.
func (d *domainSwitchDropper) Flush() error {
	if len(d.head) == 0 {
		return nil
	}
	_, err := d.w.Write(d.head)
	d.head = d.head[:0]
	return err
}

// anchorInit is the anchor client's session start (see applyAnchor).
const anchorInit = "--init-command=SET SESSION autocommit = 1"

// applyAnchor feeds the range to the server at socket with mariadb-binlog |
// mariadb, the sequential reference. The client runs with --force: a
// statement the source logged with an error code fails again on the anchor
// and must not stop it. It returns the number of statements that failed
// (the client's "ERROR" lines) and an error when either program fails
// otherwise. tmpDir holds mariadb-binlog's LOAD DATA files.
//
// The session starts with autocommit on whatever the server's default
// (FeatTargetConfig's --autocommit=0): mariadb-binlog sets the session's
// flags only where they change from the ones it printed last, so the
// first transaction's SET autocommit=1 comes after its START
// TRANSACTION, which it then commits: its statements are committed one by
// one and a ROLLBACK at its end undoes nothing (seed 111005, a hot base
// whose first transaction rolls back).
func applyAnchor(ctx context.Context, r anchorRange, socket, tmpDir string) (failed int, stderr string, err error) {
	dump := exec.CommandContext(ctx, "mariadb-binlog", append([]string{"--local-load=" + tmpDir}, r.args()...)...)
	load := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+socket, "--user=root",
		"--binary-mode", "--batch", "--force", "--local-infile=1", anchorInit)
	var dumpErr, loadErr bytes.Buffer
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "", fmt.Errorf("apply anchor: create pipe: %w", err)
	}
	dump.Stdout, load.Stdin = pw, pr
	var filter *domainSwitchDropper
	if r.NoDomains {
		// Through this process: pw stays open until mariadb-binlog ends.
		filter = &domainSwitchDropper{w: pw}
		dump.Stdout = filter
	}
	if err := load.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, "", fmt.Errorf("apply anchor: start mariadb: %w", err)
	}
	pr.Close()
	if err := dump.Start(); err != nil {
		pw.Close()
		load.Wait()
		return 0, "", fmt.Errorf("apply anchor: start mariadb-binlog: %w", err)
	}
	if filter == nil {
		pw.Close()
	}
	dumpWait := dump.Wait()
	if filter != nil {
		if err := filter.Flush(); err != nil && dumpWait == nil {
			dumpWait = err
		}
		pw.Close()
	}
	loadWait := load.Wait()
	stderr = loadErr.String()
	failed = strings.Count("\n"+stderr, "\nERROR ")
	if dumpWait != nil {
		return failed, stderr, fmt.Errorf("apply anchor: mariadb-binlog: %w: %s", dumpWait, dumpErr.String())
	}
	if loadWait != nil && failed == 0 {
		return failed, stderr, fmt.Errorf("apply anchor: mariadb: %w: %s", loadWait, stderr)
	}
	return failed, stderr, nil
}
