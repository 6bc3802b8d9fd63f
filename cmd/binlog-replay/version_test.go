package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/binlog-replay/binlog-replay", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "GOARCH", Value: "amd64"}, {Key: "GOOS", Value: "linux"},
			{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-11-28T17:59:45Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionText(info, stampOf(info, "linked", "", "false"))
	for _, want := range []string{"binlog-replay v1.2.3\n", "module:   github.com/binlog-replay/binlog-replay\n",
		"revision: 0123456789abcdef (modified: built with uncommitted changes)\n", "commit:   2026-11-28T17:59:45Z\n",
		"go:       go1.26.8 linux/amd64\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}

	// No VCS stamp from the go command (a worktree, -buildvcs=false): the
	// linked-in values stand in; without those either, it says unknown.
	info.Settings = info.Settings[:2]
	info.Main.Version = "(devel)"
	got = versionText(info, stampOf(info, "fedcba", "2026-12-01T00:00:00Z", "false"))
	if !strings.Contains(got, "revision: fedcba\n") || strings.Contains(got, "modified") || !strings.Contains(got, "binlog-replay (devel)") {
		t.Errorf("linked stamp:\n%s", got)
	}
	got = versionText(info, stampOf(info, "", "", ""))
	if !strings.Contains(got, "revision: unknown") {
		t.Errorf("no stamp:\n%s", got)
	}
	if got := versionText(nil, vcsStamp{}); !strings.HasPrefix(got, "binlog-replay (devel)\n") {
		t.Errorf("no build info: %q", got)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var stdout, stderr strings.Builder
		if code := runMain(args, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "binlog-replay ") ||
			!strings.Contains(stdout.String(), "revision: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr strings.Builder
	if code := runMain([]string{"version", "extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}

// TestHelpEndsWithExitStatuses checks that every command's -h exits 0 and
// ends with its exit statuses, replay's naming 3 and verify's saying what
// its 1 means; a bad flag exits 2 with the same help.
func TestHelpEndsWithExitStatuses(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := c.run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
				t.Fatalf("-h: exit %d, want 0", code)
			}
			help := stderr.String()
			i := strings.LastIndex(help, "\nexit status:\n")
			if i < 0 {
				t.Fatalf("no exit statuses in:\n%s", help)
			}
			statuses := help[i:]
			if strings.Contains(statuses, "\n  -") {
				t.Errorf("flags after the exit statuses:\n%s", statuses)
			}
			want := []string{"\n  0  ", "\n  2  usage"}
			switch c.name {
			case "replay":
				want = append(want, "\n  1  error", "\n  3  the binlogs ended before the stop point given", "--stop-never-reached-ok")
			case "verify":
				want = append(want, "\n  1  the servers differ")
			case "plan", "bench":
				want = append(want, "\n  1  error")
			}
			for _, w := range want {
				if !strings.Contains(statuses, w) {
					t.Errorf("exit statuses lack %q:\n%s", w, statuses)
				}
			}
			stderr.Reset()
			if code := c.run(context.Background(), []string{"--no-such-flag"}, &stdout, &stderr); code != 2 ||
				!strings.Contains(stderr.String(), "exit status:") {
				t.Errorf("bad flag: exit %d, want 2 and the help:\n%s", code, stderr.String())
			}
		})
	}
	var stdout, stderr strings.Builder
	if code := runMain([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "version") {
		t.Errorf("--help: exit %d:\n%s", code, stdout.String())
	}
	if code := runMain(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
}

func TestWrapIndent(t *testing.T) {
	got := wrapIndent("aaa bbb ccc ddd", 7, "  ")
	if got != "aaa bbb\n  ccc ddd" {
		t.Errorf("%q", got)
	}
}
