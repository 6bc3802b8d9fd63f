package logfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
)

// writeFiles creates files in dir; binlog ones start with the magic number.
func writeFiles(t *testing.T, dir string, binlogs []string, others ...string) {
	t.Helper()
	for _, n := range binlogs {
		if err := os.WriteFile(filepath.Join(dir, n), append([]byte(nil), event.Magic...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range others {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("not a binlog"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func join(dir string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func TestResolveOrder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"mysql-bin.000009", "mysql-bin.000010", "mysql-bin.000011"})
	got, err := Resolve(join(dir, "mysql-bin.000011", "mysql-bin.000009", "mysql-bin.000010", "mysql-bin.000009"))
	if err != nil {
		t.Fatal(err)
	}
	want := join(dir, "mysql-bin.000009", "mysql-bin.000010", "mysql-bin.000011")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolveWrapsPastSixDigits(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"b.999999", "b.1000000"})
	got, err := Resolve([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := join(dir, "b.999999", "b.1000000"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolveGap(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000004"})
	_, err := Resolve([]string{dir})
	if err == nil || !strings.Contains(err.Error(), "mysql-bin.000003 is missing") {
		t.Fatalf("got %v, want an error naming mysql-bin.000003", err)
	}
}

func TestResolveDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"mysql-bin.000002", "mysql-bin.000001"},
		"mysql-bin.index", "ibdata1", "aria_log.00000001", "README")
	if err := os.Mkdir(filepath.Join(dir, "sub.000003"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := join(dir, "mysql-bin.000001", "mysql-bin.000002"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolveMixedBaseNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"mysql-bin.000001", "relay-bin.000001", "relay-bin.000002"})
	_, err := Resolve([]string{dir})
	if err == nil || !strings.Contains(err.Error(), "two base names") {
		t.Fatalf("got %v, want a mixed base names error", err)
	}
}

func TestResolveIndex(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, []string{"mysql-bin.000001", "mysql-bin.000002"})
	index := filepath.Join(dir, "mysql-bin.index")
	abs := filepath.Join(dir, "mysql-bin.000002")
	if err := os.WriteFile(index, []byte("./mysql-bin.000001\n"+abs+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve([]string{index})
	if err != nil {
		t.Fatal(err)
	}
	if want := join(dir, "mysql-bin.000001", "mysql-bin.000002"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	writeFiles(t, dir, []string{"log.bin", "mysql-bin.000001"})
	writeFiles(t, other, []string{"mysql-bin.000001"})
	cases := map[string][]string{
		"no such file":          {filepath.Join(dir, "nope.000001")},
		"no numeric extension":  join(dir, "log.bin", "mysql-bin.000001"),
		"have the same number":  {filepath.Join(dir, "mysql-bin.000001"), filepath.Join(other, "mysql-bin.000001")},
		"no binlog files found": {t.TempDir()},
	}
	for want, args := range cases {
		if _, err := Resolve(args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%v) = %v, want an error containing %q", args, err, want)
		}
	}
	// A single file without a numeric extension is fine.
	if got, err := Resolve(join(dir, "log.bin")); err != nil || len(got) != 1 {
		t.Errorf("single unnumbered file: %v, %v", got, err)
	}
}
