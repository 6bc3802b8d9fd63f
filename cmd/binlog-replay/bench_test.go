package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/bench"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// TestBenchFlags checks that bad or contradictory flags exit 2 before
// anything starts.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--profiles", "nosuch"},
		{"--workers", "1,x"},
		{"--workers", "-1"},
		{"--group-txns", "64,x"},
		{"--group-txns", "-1"},
		{"--repeat", "0"},
		{"--start-position", "mysql-bin.000001:4"},
		{"--binlogs", t.TempDir()},
		{"--base", t.TempDir()},
		{"stray"},
		{"--plot", "chart.jpg"},
		{"--target-latency", "-1ms"},
		{"--commit-latency", "2ms", "--durable=false"},
		{"--commit-latency", "soon"},
		{"--compact", "off,yes"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runBench(t.Context(), args, &stdout, &stderr); code != 2 {
			t.Errorf("bench %v: exit %d, want 2; stderr %q", args, code, stderr.String())
		}
	}
}

// TestBenchCommand runs a tiny bench through the command line with JSON
// output and a chart.
func TestBenchCommand(t *testing.T) {
	requireMariaDB(t)
	plot := filepath.Join(t.TempDir(), "bench.png")
	var stdout, stderr bytes.Buffer
	code := runBench(t.Context(), []string{"--profiles", "oltp", "--workers", "2", "--scale", "50", "--txns", "60",
		"--threads", "2", "--tables", "2", "--durable=false", "--json", "--plot", plot}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, stdout.String())
	}
	if len(rep.Profiles) != 1 || len(rep.Profiles[0].Results) != 2 || !rep.Verified() || rep.Durable {
		t.Errorf("report: %+v", rep)
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("chart: %v", err)
	}
	if !strings.Contains(stderr.String(), "every target verified") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// requireMariaDB skips t when MariaDB is missing, and fails it under CI.
func requireMariaDB(t *testing.T) {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB is required under CI: %v", err)
		}
		t.Skip(err)
	}
}
