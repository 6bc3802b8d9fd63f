package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/verify"
)

// verifyOptions are the flags of "binlog-replay verify".
type verifyOptions struct {
	Target, Reference string
	Databases, Tables string
	ChunkSize         int
	SampleRows        int
	JSON              bool
	// LogValues lets the report show key values (see verify.Options).
	LogValues bool
	// TLS and ReferenceTLS are the TLS flags of each server; validate
	// turns them into targetTLS and referenceTLS.
	TLS, ReferenceTLS       tlsFlags
	targetTLS, referenceTLS *tls.Config
	// referenceFlag is the flag that named the reference, for messages:
	// --reference (the default), or replay's --verify-against.
	referenceFlag string
	// targetNames maps a reference database to its name on the target
	// (replay's --rewrite-db).
	targetNames map[string]string
	// tablesOnly leaves out the stored objects (verify.Options.TablesOnly).
	tablesOnly bool
}

func (o *verifyOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Target, "target", "", "DSN of the server to check, e.g. 'root@tcp(127.0.0.1:3306)/' (password from MYSQL_PWD if absent)")
	fs.StringVar(&o.Reference, "reference", "", "DSN of the server holding the expected data")
	fs.StringVar(&o.Databases, "databases", "", "comma-separated databases to compare (default: all but system databases)")
	fs.StringVar(&o.Tables, "tables", "", "comma-separated db.table list to compare")
	fs.IntVar(&o.ChunkSize, "chunk-size", verify.DefaultChunkSize, "rows per checksum chunk")
	fs.IntVar(&o.SampleRows, "sample-rows", verify.DefaultSampleRows, "differing rows to name per table")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&o.LogValues, "log-values", false, "show the key values of differing chunks and rows (by default replaced by ?)")
	o.TLS.addFlags(fs, "", "target")
	o.ReferenceTLS.addFlags(fs, "reference-", "reference")
}

// validate checks the flags, resolves the DSNs' passwords (warning on
// warn about passwords on the command line) and loads the TLS files.
func (o *verifyOptions) validate(warn io.Writer) error {
	var err error
	if o.Target, err = resolveDSN("target", o.Target, warn); err != nil {
		return err
	}
	if o.Reference, err = resolveDSN("reference", o.Reference, warn); err != nil {
		return err
	}
	if o.targetTLS, err = o.TLS.config(); err != nil {
		return err
	}
	if o.referenceTLS, err = o.ReferenceTLS.config(); err != nil {
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
		Databases:   splitList(o.Databases),
		Tables:      splitList(o.Tables),
		ChunkSize:   o.ChunkSize,
		SampleRows:  sample,
		HideValues:  !o.LogValues,
		TargetNames: o.targetNames,
		TablesOnly:  o.tablesOnly,
	}
}

// runVerify implements "binlog-replay verify": it compares the target's
// tables with the reference's and prints the report. It returns 0 when
// they are identical, 1 when they differ, 2 on a usage or comparison error
// (including a cancelled ctx).
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", stderr, "usage: binlog-replay verify --target DSN --reference DSN [flags]\n\n"+
		"Compares the data of two servers table by table (chunked checksums).",
		exitStatus{0, "the servers hold identical data"},
		exitStatus{1, "the servers differ (the report says where): unlike the other commands, 1 is not an error"},
		exitStatus{2, "usage or error: bad flags, a server that cannot be reached or read; nothing was compared"})
	var o verifyOptions
	o.addFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "binlog-replay verify: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := o.validate(stderr); err != nil {
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
	target, err := openVerifyDB(ctx, "target", "--target", o.Target, o.targetTLS)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	refFlag := o.referenceFlag
	if refFlag == "" {
		refFlag = "--reference"
	}
	reference, err := openVerifyDB(ctx, "reference", refFlag, o.Reference, o.referenceTLS)
	if err != nil {
		return nil, err
	}
	defer reference.Close()
	return verify.Compare(ctx, target, reference, o.compareOptions())
}

// openVerifyDB opens and pings the server dsn names (over TLS with
// tlsConfig when it is set); name says which one it is in errors, and
// flag the flag that gave dsn.
func openVerifyDB(ctx context.Context, name, flag, dsn string, tlsConfig *tls.Config) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %s", name, redactDSN(dsn), parseErrorText(dsn, err))
	}
	if tlsConfig != nil {
		cfg.TLS, cfg.AllowFallbackToPlaintext = tlsConfig.Clone(), false
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", name, redactDSN(dsn), err)
	}
	db := sql.OpenDB(connector)
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s %s: %w", name, redactDSN(dsn), err)
		}
		return nil, explainConnectError(name, flag, cfg, err, connectTimeout)
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
