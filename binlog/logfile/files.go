package logfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog/event"
)

// Resolve turns command-line arguments into the binlog files to read,
// in order. An argument is a binlog file, a directory (its files named
// BASE.NNNNNN that start with the binlog magic number are taken; other files
// are ignored) or an index file (name ending in ".index", one path per line,
// relative paths taken from the index file's directory). The result is
// sorted by numeric extension with duplicates removed. It returns an error
// if files of two base names are mixed, if a number is missing from the
// sequence (naming the missing file), if the same number comes from two
// different paths, or if a file without a numeric extension is given along
// with others.
func Resolve(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		found, err := expandArg(arg)
		if err != nil {
			return nil, err
		}
		paths = append(paths, found...)
	}
	if len(paths) == 0 {
		return nil, errors.New("resolve binlog files: no binlog files found")
	}
	return orderFiles(paths)
}

// expandArg returns the files one argument stands for.
func expandArg(arg string) ([]string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("resolve binlog files: %w", err)
	}
	switch {
	case st.IsDir():
		return scanDir(arg)
	case strings.HasSuffix(arg, ".index"):
		return readIndex(arg)
	}
	return []string{filepath.Clean(arg)}, nil
}

// scanDir lists the binlog files in dir.
func scanDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve binlog files: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if _, _, ok := SplitName(Name(e.Name())); !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		isBinlog, err := hasMagic(path)
		if err != nil {
			return nil, err
		}
		if isBinlog {
			out = append(out, path)
		}
	}
	return out, nil
}

// hasMagic reports whether the file at path starts with the binlog magic
// number.
func hasMagic(path string) (bool, error) {
	f, _, err := openStream(path)
	if err != nil {
		return false, fmt.Errorf("resolve binlog files: %s: %w", path, err)
	}
	defer f.Close()
	b := make([]byte, len(event.Magic))
	if _, err := io.ReadFull(f, b); err != nil {
		return false, nil // shorter than a magic number: not a binlog
	}
	return string(b) == event.Magic, nil
}

// readIndex reads a binlog index file.
func readIndex(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resolve binlog files: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(filepath.Dir(path), line)
		}
		out = append(out, filepath.Clean(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("resolve binlog files: read %s: %w", path, err)
	}
	return out, nil
}

// SplitName splits "base.000123" into "base" and 123; ok is false for a
// name without a numeric extension.
func SplitName(name string) (base string, num uint64, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	ext := name[i+1:]
	for _, c := range ext {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseUint(ext, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return name[:i], n, true
}

type numbered struct {
	path string
	num  uint64
}

// orderFiles sorts paths by number and checks the sequence.
func orderFiles(paths []string) ([]string, error) {
	paths, err := dedupe(paths)
	if err != nil {
		return nil, err
	}
	byNum := map[uint64]string{}
	var files []numbered
	base := ""
	for _, p := range paths {
		b, n, ok := SplitName(Name(p))
		if !ok {
			if len(paths) == 1 {
				return paths, nil
			}
			return nil, fmt.Errorf("resolve binlog files: %s has no numeric extension, so it cannot be ordered among other files", p)
		}
		if base == "" {
			base = b
		} else if b != base {
			return nil, fmt.Errorf("resolve binlog files: files of two base names are mixed (%s.* and %s.*)", base, b)
		}
		if other, dup := byNum[n]; dup {
			return nil, fmt.Errorf("resolve binlog files: %s and %s have the same number", other, p)
		}
		byNum[n] = p
		files = append(files, numbered{p, n})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].num < files[j].num })
	out := make([]string, len(files))
	for i, f := range files {
		if i > 0 && f.num != files[i-1].num+1 {
			return nil, fmt.Errorf("resolve binlog files: %s is missing between %s and %s",
				missingName(files[i-1].path, files[i-1].num+1), files[i-1].path, f.path)
		}
		out[i] = f.path
	}
	return out, nil
}

// dedupe drops paths that name a file already listed.
func dedupe(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("resolve binlog files: %w", err)
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// missingName builds the name of the file numbered n in prev's sequence,
// keeping prev's zero padding.
func missingName(prev string, n uint64) string {
	name := Name(prev)
	i := strings.LastIndexByte(name, '.')
	width := len(name) - i - 1
	return fmt.Sprintf("%s.%0*d", name[:i], width, n)
}

// Before reports whether binlog file a comes before file b of the same
// sequence: by numeric extension ("mysql-bin.000009" before
// "mysql-bin.000010"), or by name when either has none.
func Before(a, b string) bool {
	_, na, okA := SplitName(Name(a))
	_, nb, okB := SplitName(Name(b))
	if okA && okB {
		return na < nb
	}
	return a < b
}
