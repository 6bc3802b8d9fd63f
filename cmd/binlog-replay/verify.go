package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/binlog-replay/binlog-replay/verify"
)

// verifyOptions are the flags of "binlog-replay verify".
type verifyOptions struct {
	Target, Reference string
	Databases, Tables string
	ChunkSize         int
	SampleRows        int
	JSON              bool
}

func (o *verifyOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Target, "target", "", "DSN of the server to check, e.g. 'root@tcp(127.0.0.1:3306)/' (password from MYSQL_PWD if absent)")
	fs.StringVar(&o.Reference, "reference", "", "DSN of the server holding the expected data")
	fs.StringVar(&o.Databases, "databases", "", "comma-separated databases to compare (default: all but system databases)")
	fs.StringVar(&o.Tables, "tables", "", "comma-separated db.table list to compare")
	fs.IntVar(&o.ChunkSize, "chunk-size", verify.DefaultChunkSize, "rows per checksum chunk")
	fs.IntVar(&o.SampleRows, "sample-rows", verify.DefaultSampleRows, "differing rows to name per table")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
}

// validate checks the flags and resolves the DSNs' passwords.
func (o *verifyOptions) validate() error {
	var err error
	if o.Target, err = resolveDSN("target", o.Target); err != nil {
		return err
	}
	if o.Reference, err = resolveDSN("reference", o.Reference); err != nil {
		return err
	}
	if o.ChunkSize < 1 {
		return fmt.Errorf("--chunk-size must be at least 1, not %d", o.ChunkSize)
	}
	for _, t := range splitList(o.Tables) {
		if db, table, ok := strings.Cut(t, "."); !ok || db == "" || table == "" {
			return fmt.Errorf("--tables: %q is not db.table", t)
		}
	}
	return nil
}

func (o *verifyOptions) compareOptions() verify.Options {
	sample := o.SampleRows
	if sample == 0 {
		sample = -1 // the flag's 0 means none; verify's 0 means the default
	}
	return verify.Options{
		Databases:  splitList(o.Databases),
		Tables:     splitList(o.Tables),
		ChunkSize:  o.ChunkSize,
		SampleRows: sample,
	}
}

// runVerify implements "binlog-replay verify": it compares the target's
// tables with the reference's and prints the report. It returns 0 when
// they are identical, 1 when they differ, 2 on a usage or comparison error
// (including a cancelled ctx).
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: binlog-replay verify --target DSN --reference DSN [flags]\n\n"+
			"Compares the data of two servers table by table (chunked checksums).\n"+
			"Exit status: 0 identical, 1 different, 2 error.\n\nflags:")
		fs.PrintDefaults()
	}
	var o verifyOptions
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2 // flag has printed the error or the help
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "binlog-replay verify: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "binlog-replay verify: %v\n", err)
		return 2
	}
	report, err := compareServers(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay verify: %v\n", err)
		return 2
	}
	if err := printReport(stdout, report, o.JSON); err != nil {
		fmt.Fprintf(stderr, "binlog-replay verify: %v\n", err)
		return 2
	}
	if !report.Equal() {
		return 1
	}
	return 0
}

// compareServers opens both servers and compares them.
func compareServers(ctx context.Context, o verifyOptions) (*verify.Report, error) {
	target, err := openVerifyDB(ctx, "target", o.Target)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	reference, err := openVerifyDB(ctx, "reference", o.Reference)
	if err != nil {
		return nil, err
	}
	defer reference.Close()
	return verify.Compare(ctx, target, reference, o.compareOptions())
}

func openVerifyDB(ctx context.Context, name, dsn string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", name, redactDSN(dsn), err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s %s: %w", name, redactDSN(dsn), err)
	}
	return db, nil
}

// printReport writes the report as text or as JSON with a top-level
// "equal" field.
func printReport(w io.Writer, r *verify.Report, asJSON bool) error {
	if !asJSON {
		_, err := io.WriteString(w, r.String())
		return err
	}
	out := struct {
		Equal bool `json:"equal"`
		*verify.Report
	}{r.Equal(), r}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
