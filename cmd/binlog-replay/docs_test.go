package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The manual pages docs/<command>.md hold two generated parts, each
// between a begin and an end marker: the table of the command's flags,
// made from the flag set the command builds, and its exit statuses, taken
// from its -h. The prose around them is written by hand. TestManualPages
// fails when a page lacks a flag or its generated parts are stale;
//
//	go test ./cmd/binlog-replay -run TestManualPages -update
//
// rewrites them.
var updateDocs = flag.Bool("update", false, "rewrite the generated parts of the manual pages in docs/")

// docsDir is the manual pages' directory, from this package's directory.
const docsDir = "../../docs"

// manualPages are the commands that have a manual page, each with its
// flags registered as the command registers them (runReplay, runUndo,
// runPlan, runVerify, runBench, runPreflight).
var manualPages = []struct {
	command  string
	addFlags func(fs *flag.FlagSet)
}{
	{"replay", func(fs *flag.FlagSet) { new(ReplayOptions).AddFlags(fs) }},
	{"undo", func(fs *flag.FlagSet) { new(UndoOptions).AddFlags(fs) }},
	{"plan", func(fs *flag.FlagSet) { new(PlanOptions).AddFlags(fs) }},
	{"verify", func(fs *flag.FlagSet) { new(verifyOptions).addFlags(fs) }},
	{"bench", func(fs *flag.FlagSet) { new(BenchOptions).AddFlags(fs) }},
	{"preflight", func(fs *flag.FlagSet) { new(PreflightOptions).AddFlags(fs) }},
}

// machineDefaults are defaults that depend on the machine the test runs
// on: the page says how they are worked out, and value gives the default
// that description means here (checked against the flag's).
var machineDefaults = map[string]struct {
	text  string
	value func() string
}{
	"undo --workers": {"twice the cores, 4 to 16", func() string {
		return strconv.Itoa(min(max(2*runtime.NumCPU(), 4), 16))
	}},
}

// Markers of the generated parts.
const (
	flagsBegin = "<!-- flags: generated from the command's flag set by `go test ./cmd/binlog-replay -run TestManualPages -update`; edit the usage text in the Go code -->"
	flagsEnd   = "<!-- end of flags -->"
	exitBegin  = "<!-- exit status: generated from the command's -h by `go test ./cmd/binlog-replay -run TestManualPages -update` -->"
	exitEnd    = "<!-- end of exit status -->"
)

func TestManualPages(t *testing.T) {
	for _, p := range manualPages {
		t.Run(p.command, func(t *testing.T) {
			fs := flag.NewFlagSet(p.command, flag.ContinueOnError)
			p.addFlags(fs)
			help := commandHelp(t, p.command)
			checkHelpFlags(t, p.command, fs, help)
			flags, err := flagTable(p.command, fs)
			if err != nil {
				t.Fatal(err)
			}
			exits, err := exitTable(help)
			if err != nil {
				t.Fatalf("%s -h: %v", p.command, err)
			}
			path := filepath.Join(docsDir, p.command+".md")
			page, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("the command %s has no manual page: %v", p.command, err)
			}
			updated, err := replaceBetween(page, flagsBegin, flagsEnd, flags)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			updated, err = replaceBetween(updated, exitBegin, exitEnd, exits)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if bytes.Equal(updated, page) {
				return
			}
			if *updateDocs {
				if err := os.WriteFile(path, updated, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote the generated parts of %s", path)
				return
			}
			documented := documentedFlags(between(page, flagsBegin, flagsEnd))
			var missing []string
			fs.VisitAll(func(f *flag.Flag) {
				if !documented["--"+f.Name] {
					missing = append(missing, "--"+f.Name)
				}
			})
			var gone []string
			for name := range documented {
				if fs.Lookup(strings.TrimPrefix(name, "--")) == nil {
					gone = append(gone, name)
				}
			}
			slices.Sort(gone)
			if len(missing) > 0 {
				t.Errorf("%s: the flag table lacks %s", path, strings.Join(missing, ", "))
			}
			if len(gone) > 0 {
				t.Errorf("%s: the flag table lists %s, which the command does not have", path, strings.Join(gone, ", "))
			}
			t.Errorf("%s: the generated flag table or exit statuses are stale (the flags' usage text or defaults, or the exit statuses, changed); "+
				"run go test ./cmd/binlog-replay -run TestManualPages -update and commit the page", path)
		})
	}
}

// TestManualPagesCatchAMissingFlag checks the check: a page whose flag
// table lacks a flag the command has is found stale.
func TestManualPagesCatchAMissingFlag(t *testing.T) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	new(ReplayOptions).AddFlags(fs)
	full, err := flagTable("replay", fs)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(full, "\n") {
		if !strings.HasPrefix(l, "| `--memory ") {
			lines = append(lines, l)
		}
	}
	short := strings.Join(lines, "\n")
	if short == full {
		t.Fatal("no --memory row in the generated table")
	}
	if documentedFlags([]byte(short))["--memory"] || !documentedFlags([]byte(full))["--memory"] {
		t.Fatal("documentedFlags does not tell a table with --memory from one without")
	}
	page := []byte("# replay\n\n" + flagsBegin + "\n" + short + flagsEnd + "\n")
	updated, err := replaceBetween(page, flagsBegin, flagsEnd, full)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(updated, page) {
		t.Fatal("a page without --memory is not found stale")
	}
}

// commandHelp returns what "binlog-replay COMMAND -h" prints.
func commandHelp(t *testing.T, command string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{command, "-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("%s -h: exit status %d\n%s%s", command, code, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// helpFlag is a flag's line in the flag package's usage output.
var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// checkHelpFlags checks that the flags the command's -h lists are those
// of fs: the page is made from fs, so a flag the command registered
// elsewhere would be missing from it.
func checkHelpFlags(t *testing.T, command string, fs *flag.FlagSet, help string) {
	t.Helper()
	var inHelp, inSet []string
	for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
		inHelp = append(inHelp, m[1])
	}
	fs.VisitAll(func(f *flag.Flag) { inSet = append(inSet, f.Name) })
	var onlyHelp, onlySet []string
	for _, n := range inHelp {
		if !slices.Contains(inSet, n) {
			onlyHelp = append(onlyHelp, "--"+n)
		}
	}
	for _, n := range inSet {
		if !slices.Contains(inHelp, n) {
			onlySet = append(onlySet, "--"+n)
		}
	}
	if len(onlyHelp)+len(onlySet) > 0 {
		t.Fatalf("%s -h lists %v that the flag set the manual page is made from lacks, and lacks %v that it has: "+
			"make manualPages in docs_test.go register the command's flags as the command does", command, onlyHelp, onlySet)
	}
}

// flagTable returns the Markdown table of the flags in fs, in name order.
func flagTable(command string, fs *flag.FlagSet) (string, error) {
	var b strings.Builder
	b.WriteString("| flag | default | meaning |\n| --- | --- | --- |\n")
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		def := ""
		if md, ok := machineDefaults[command+" --"+f.Name]; ok {
			if v := md.value(); v != f.DefValue {
				err = fmt.Errorf("%s --%s: the default is %s here, but the page would say %q (%s here): update machineDefaults",
					command, f.Name, f.DefValue, md.text, v)
			}
			def = md.text
		} else if !zeroDefault(f) {
			def = "`" + f.DefValue + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, def, cell(usage))
	})
	return b.String(), err
}

// zeroDefault reports whether f's default is its type's zero value,
// which the table leaves out (as the flag package's -h does).
func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// exitTable returns the Markdown table of the exit statuses that a
// command's -h ends with.
func exitTable(help string) (string, error) {
	_, after, ok := strings.Cut(help, "\nexit status:\n")
	if !ok {
		return "", fmt.Errorf("no exit status section")
	}
	var rows [][2]string
	for _, l := range strings.Split(after, "\n") {
		switch {
		case strings.TrimSpace(l) == "":
		case len(l) > 4 && l[:2] == "  " && l[2] >= '0' && l[2] <= '9':
			code, meaning, _ := strings.Cut(strings.TrimSpace(l), " ")
			rows = append(rows, [2]string{code, strings.TrimSpace(meaning)})
		case strings.HasPrefix(l, "     ") && len(rows) > 0:
			rows[len(rows)-1][1] += " " + strings.TrimSpace(l)
		default:
			return "", fmt.Errorf("unexpected line in the exit statuses: %q", l)
		}
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("no exit statuses")
	}
	var b strings.Builder
	b.WriteString("| status | meaning |\n| --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], cell(r[1]))
	}
	return b.String(), nil
}

// cell escapes s for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// replaceBetween returns page with what lies between the lines begin and
// end replaced by body.
func replaceBetween(page []byte, begin, end, body string) ([]byte, error) {
	i := bytes.Index(page, []byte(begin+"\n"))
	if i < 0 {
		return nil, fmt.Errorf("no line %q", begin)
	}
	start := i + len(begin) + 1
	j := bytes.Index(page[start:], []byte(end))
	if j < 0 {
		return nil, fmt.Errorf("no line %q after %q", end, begin)
	}
	var out bytes.Buffer
	out.Write(page[:start])
	out.WriteString(body)
	out.Write(page[start+j:])
	return out.Bytes(), nil
}

// between returns what lies between the lines begin and end in page (nil
// when they are missing).
func between(page []byte, begin, end string) []byte {
	_, after, ok := bytes.Cut(page, []byte(begin+"\n"))
	if !ok {
		return nil
	}
	body, _, _ := bytes.Cut(after, []byte(end))
	return body
}

// tableFlag is a flag named in the first cell of a flag table's row.
var tableFlag = regexp.MustCompile("(?m)^\\| `(--[a-z0-9-]+)")

// documentedFlags returns the flags a generated flag table lists.
func documentedFlags(table []byte) map[string]bool {
	out := map[string]bool{}
	for _, m := range tableFlag.FindAllSubmatch(table, -1) {
		out[string(m[1])] = true
	}
	return out
}
