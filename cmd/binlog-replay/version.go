package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// The git revision, its commit time and whether the work tree was
// modified, as `make build` and `make install` set them with -ldflags -X:
// they stand in for the go command's own VCS stamp where it makes none (in
// a git worktree, or with GOFLAGS=-buildvcs=false). They are set at link
// time and never changed.
var (
	linkedRevision string
	linkedTime     string
	linkedModified string
)

// vcsStamp is the version control state a binary was built from.
type vcsStamp struct {
	revision, time string
	modified       bool
}

// stampOf returns the VCS stamp the go command put in info, or else the
// one linked in by the Makefile (revision, time, modified "true"/"false").
func stampOf(info *debug.BuildInfo, revision, time, modified string) vcsStamp {
	settings := map[string]string{}
	if info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	if rev := settings["vcs.revision"]; rev != "" {
		return vcsStamp{revision: rev, time: settings["vcs.time"], modified: settings["vcs.modified"] == "true"}
	}
	return vcsStamp{revision: revision, time: time, modified: modified == "true"}
}

// versionText describes the build in info (from debug.ReadBuildInfo; nil
// when the binary carries none) and stamp: the module version, the git
// revision, its commit time and whether the work tree had uncommitted
// changes, and the Go version.
func versionText(info *debug.BuildInfo, stamp vcsStamp) string {
	var b strings.Builder
	version := "(devel)"
	if info != nil && info.Main.Version != "" {
		version = info.Main.Version
	}
	fmt.Fprintf(&b, "binlog-replay %s\n", version)
	if info != nil && info.Main.Path != "" {
		fmt.Fprintf(&b, "module:   %s\n", info.Main.Path)
	}
	if stamp.revision != "" {
		modified := ""
		if stamp.modified {
			modified = " (modified: built with uncommitted changes)"
		}
		fmt.Fprintf(&b, "revision: %s%s\n", stamp.revision, modified)
		if stamp.time != "" {
			fmt.Fprintf(&b, "commit:   %s\n", stamp.time)
		}
	} else {
		b.WriteString("revision: unknown (not built from a git checkout, or built with -buildvcs=false; `make build` stamps it)\n")
	}
	if info != nil {
		platform := map[string]string{}
		for _, s := range info.Settings {
			platform[s.Key] = s.Value
		}
		fmt.Fprintf(&b, "go:       %s", info.GoVersion)
		if platform["GOOS"] != "" {
			fmt.Fprintf(&b, " %s/%s", platform["GOOS"], platform["GOARCH"])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// buildInfo returns this binary's build information, or nil.
func buildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}

// runVersion implements "binlog-replay version" (and --version).
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", stderr, "usage: binlog-replay version\n\n"+
		"Prints the version of this binary: module version, git revision and commit time\n"+
		"(and whether it was built with uncommitted changes), and the Go version.",
		exitStatus{0, "printed"}, exitStatus{2, "usage: unexpected arguments"})
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "binlog-replay version: unexpected arguments %q\n", fs.Args())
		return 2
	}
	info := buildInfo()
	fmt.Fprint(stdout, versionText(info, stampOf(info, linkedRevision, linkedTime, linkedModified)))
	return 0
}

// exitStatus is one exit status of a command and what it means, for the
// end of the command's -h.
type exitStatus struct {
	code    int
	meaning string
}

// newFlagSet returns a flag set for the command name whose usage (-h, or
// after a bad flag) prints head, then the flags, then the exit statuses.
func newFlagSet(name string, stderr io.Writer, head string, statuses ...exitStatus) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, head)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stderr, "\nflags:")
			fs.PrintDefaults()
		}
		fmt.Fprintln(stderr, "\nexit status:")
		for _, s := range statuses {
			fmt.Fprintf(stderr, "  %d  %s\n", s.code, wrapIndent(s.meaning, 74, "     "))
		}
	}
	return fs
}

// parseFlags parses args with fs. ok is false when the command should
// return code at once: 0 after -h (the help was asked for and printed), 2
// after a bad flag (the flag package has printed the error and the help).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	switch err := fs.Parse(args); {
	case err == flag.ErrHelp:
		return 0, false
	case err != nil:
		return 2, false
	}
	return 0, true
}

// wrapIndent wraps s at width columns, indenting every line after the
// first with indent.
func wrapIndent(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && line+1+len(w) > width {
			b.WriteString("\n" + indent)
			line = 0
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}
