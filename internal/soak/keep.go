package soak

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// keepSeed copies a failing seed's base, binlogs and report into
// keep/seed-N, so that the replay can be rerun on the very same input.
func keepSeed(keep string, r *Result, src *Source) error {
	dir := filepath.Join(keep, fmt.Sprintf("seed-%d", r.Seed))
	if err := os.MkdirAll(filepath.Join(dir, "binlogs"), 0o755); err != nil {
		return fmt.Errorf("keep seed: %w", err)
	}
	args := append([]string{"-a"}, src.Files...)
	if out, err := exec.Command("cp", append(args, filepath.Join(dir, "binlogs"))...).CombinedOutput(); err != nil {
		return fmt.Errorf("keep seed binlogs: %w: %s", err, out)
	}
	if r.undoOnSource && r.end.File != "" {
		// Without the undo's writes, which the source logged after the
		// workload's transactions.
		if err := os.Truncate(filepath.Join(dir, "binlogs", r.end.File), int64(r.end.Size)); err != nil {
			return fmt.Errorf("keep seed binlogs: %w", err)
		}
	}
	if out, err := exec.Command("cp", "-a", src.Base, filepath.Join(dir, "base")).CombinedOutput(); err != nil {
		return fmt.Errorf("keep seed base: %w: %s", err, out)
	}
	start := fmt.Sprintf("%s:%d\n", src.StartFile, src.StartPos)
	if err := os.WriteFile(filepath.Join(dir, "start"), []byte(start), 0o644); err != nil {
		return fmt.Errorf("keep seed start: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "start_gtid"), []byte(src.StartGTID+"\n"), 0o644); err != nil {
		return fmt.Errorf("keep seed start: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accident"), []byte(src.Accident+"\n"), 0o644); err != nil {
		return fmt.Errorf("keep seed accident: %w", err)
	}
	info := fmt.Sprintf("%s\nstart position: %s:%d\nrerun the replay and the check on this input: %s FROM=%s\n",
		r.Report(), src.StartFile, src.StartPos, r.Repro, dir)
	if err := os.WriteFile(filepath.Join(dir, "REPORT.txt"), []byte(info), 0o644); err != nil {
		return fmt.Errorf("keep seed report: %w", err)
	}
	return nil
}

// keptSource reads a seed kept by keepSeed: its base, binlogs and start.
func keptSource(dir string) (*Source, error) {
	data, err := os.ReadFile(filepath.Join(dir, "start"))
	if err != nil {
		return nil, fmt.Errorf("read kept seed: %w", err)
	}
	start := strings.TrimSpace(string(data))
	i := strings.LastIndexByte(start, ':')
	pos, err := strconv.ParseUint(start[i+1:], 10, 64)
	if i < 0 || err != nil {
		return nil, fmt.Errorf("read kept seed: bad start %q", start)
	}
	files, err := filepath.Glob(filepath.Join(dir, "binlogs", "*.[0-9]*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("read kept seed: no binlogs in %s", dir)
	}
	sort.Strings(files)
	src := &Source{Base: filepath.Join(dir, "base"), StartFile: start[:i], StartPos: pos, Files: files}
	if g, err := os.ReadFile(filepath.Join(dir, "start_gtid")); err == nil {
		src.StartGTID = strings.TrimSpace(string(g))
	}
	if g, err := os.ReadFile(filepath.Join(dir, "accident")); err == nil {
		src.Accident = strings.TrimSpace(string(g))
	}
	return src, nil
}
