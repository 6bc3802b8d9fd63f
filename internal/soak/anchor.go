package soak

import (
	"bytes"
	"context"
	"fmt"
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
}

// rangeFor returns the range that applies txns[:n] of files (from
// startPos), and false when n is 0 (nothing to apply).
func rangeFor(files []string, startPos uint64, txns []binlogtext.BinTxn, n int) (anchorRange, bool) {
	if n == 0 {
		return anchorRange{}, false
	}
	r := anchorRange{Files: files, StartPos: startPos}
	if n < len(txns) {
		stop := txns[n]
		for i, f := range files {
			if filepath.Base(f) == stop.File {
				r.Files = files[:i+1]
				break
			}
		}
		r.StopPos = stop.Start
	}
	return r, true
}

// args are mariadb-binlog's arguments for the range.
func (r anchorRange) args() []string {
	a := []string{fmt.Sprintf("--start-position=%d", r.StartPos)}
	if r.StopPos > 0 {
		a = append(a, fmt.Sprintf("--stop-position=%d", r.StopPos))
	}
	return append(a, r.Files...)
}

// Command returns the anchor's shell pipeline, for reports.
func (r anchorRange) Command(socket string) string {
	return fmt.Sprintf("mariadb-binlog %s | mariadb --no-defaults --socket=%s --user=root --binary-mode --force --local-infile=1",
		strings.Join(r.args(), " "), socket)
}

// applyAnchor feeds the range to the server at socket with mariadb-binlog |
// mariadb, the sequential reference. The client runs with --force: a
// statement the source logged with an error code fails again on the anchor
// and must not stop it. It returns the number of statements that failed
// (the client's "ERROR" lines) and an error when either program fails
// otherwise. tmpDir holds mariadb-binlog's LOAD DATA files.
func applyAnchor(ctx context.Context, r anchorRange, socket, tmpDir string) (failed int, stderr string, err error) {
	dump := exec.CommandContext(ctx, "mariadb-binlog", append([]string{"--local-load=" + tmpDir}, r.args()...)...)
	load := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+socket, "--user=root",
		"--binary-mode", "--batch", "--force", "--local-infile=1")
	var dumpErr, loadErr bytes.Buffer
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "", fmt.Errorf("apply anchor: create pipe: %w", err)
	}
	dump.Stdout, load.Stdin = pw, pr
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
	pw.Close()
	dumpWait, loadWait := dump.Wait(), load.Wait()
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
