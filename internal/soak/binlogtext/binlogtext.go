// Package binlogtext is the soak oracle's own reading of binlogs: the
// transactions mariadb-binlog prints (BinTxn), parsed from its text output
// rather than by binlog-replay's reader, and the stop points (Stop) a
// replay is given, with what the oracle expects of each, computed from them.
package binlogtext

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// BinTxn is one transaction as mariadb-binlog prints it: the oracle's own
// reading of the binlogs, independent of binlog-replay's reader.
type BinTxn struct {
	File  string // binlog base name
	Start uint64 // offset of its GTID event
	End   uint64 // end_log_pos of its last event
	GTID  string // domain-server-seq
	// Time is the timestamp of its last event (the commit, or the DDL
	// query), to the second, as mariadb-binlog prints it in UTC.
	Time time.Time
	// ErrorCodes counts its query events logged with an error code.
	ErrorCodes int
	// Refused says why binlog-replay refuses it on purpose ("" if it
	// does not): an XA transaction.
	Refused string
	// RolledBack is true when it ends with a ROLLBACK query (the source
	// rolled it back after writing non-transactional tables): it is
	// applied, events then ROLLBACK, by the replay and the anchor alike.
	RolledBack bool
	// TempOps are the temporary tables its query events create ("+") and
	// drop ("-"), as "+thread:name"; TempsOpen is how many the binlog has
	// open after it (readBinlogTexts counts them over every file).
	TempOps   []string
	TempsOpen int
	// Statement is true when it holds a statement-format query other than
	// BEGIN/COMMIT (or is a DDL).
	Statement bool
	// DDL is true for a standalone query (its GTID event says "ddl").
	DDL bool
	// Load is true when it holds a statement-format LOAD DATA (its file in
	// Begin_load_query events).
	Load bool
}

// eventHeader matches the line mariadb-binlog prints after "# at N":
// "#261204 18:55:21 server id 23001  end_log_pos 427 CRC32 0x6060184d 	GTID 0-23001-13 ddl".
var eventHeader = regexp.MustCompile(`^#(\d{6} [ \d]\d:\d\d:\d\d) server id (\d+)\s+end_log_pos (\d+)\s+(?:CRC32 0x[0-9a-f]+\s+)?(.*)$`)

// ReadBinlogTexts runs mariadb-binlog on each file (from startPos in the
// first) and returns the transactions in order.
func ReadBinlogTexts(ctx context.Context, files []string, startPos uint64) ([]BinTxn, error) {
	var all []BinTxn
	open := map[string]bool{}
	for i, f := range files {
		args := []string{"--base64-output=decode-rows"}
		if i == 0 {
			args = append(args, fmt.Sprintf("--start-position=%d", startPos))
		}
		txns, err := readBinlogText(ctx, append(args, f), filepath.Base(f))
		if err != nil {
			return nil, err
		}
		for j := range txns {
			for _, op := range txns[j].TempOps {
				if op[0] == '+' {
					open[op[1:]] = true
				} else {
					delete(open, op[1:])
				}
			}
			txns[j].TempsOpen = len(open)
		}
		all = append(all, txns...)
	}
	return all, nil
}

func readBinlogText(ctx context.Context, args []string, file string) ([]BinTxn, error) {
	// LOAD DATA's files are written where --local-load says (by default
	// the system's temporary directory, where they would stay): only the
	// text is read here.
	loadDir, err := os.MkdirTemp("", "binlogtext-load-")
	if err != nil {
		return nil, fmt.Errorf("run mariadb-binlog: %w", err)
	}
	defer os.RemoveAll(loadDir)
	cmd := exec.CommandContext(ctx, "mariadb-binlog", append([]string{"--local-load=" + loadDir}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run mariadb-binlog: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run mariadb-binlog: %w", err)
	}
	txns, parseErr := parseBinlogText(out, file)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("mariadb-binlog %s: %w: %s", file, err, stderr.String())
	}
	if parseErr != nil {
		return nil, fmt.Errorf("parse mariadb-binlog output of %s: %w", file, parseErr)
	}
	return txns, nil
}

// textParser groups mariadb-binlog's events into transactions.
type textParser struct {
	file string
	txns []BinTxn
	cur  *BinTxn
	// lastType is the type of the event being read, lastThread the
	// thread_id of the query event being read.
	lastType   string
	lastThread string
}

// parseBinlogText reads mariadb-binlog output of one file. A transaction
// starts at a GTID event and ends before the next GTID event or the next
// event that belongs to no transaction (rotate, stop, GTID list, binlog
// checkpoint, format description).
func parseBinlogText(r io.Reader, file string) ([]BinTxn, error) {
	p := &textParser{file: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var at uint64
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# at "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad offset line %q", line)
			}
			at = n
			continue
		}
		if m := eventHeader.FindStringSubmatch(line); m != nil {
			if err := p.event(at, m); err != nil {
				return nil, err
			}
			continue
		}
		p.body(line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	p.close()
	return p.txns, nil
}

func (p *textParser) close() {
	if p.cur != nil {
		p.txns = append(p.txns, *p.cur)
		p.cur = nil
	}
}

// event handles an event header at offset at.
func (p *textParser) event(at uint64, m []string) error {
	ts, err := time.ParseInLocation("060102 15:04:05", strings.Replace(m[1], "  ", " 0", 1), time.UTC)
	if err != nil {
		return fmt.Errorf("bad timestamp in %q: %w", m[0], err)
	}
	end, _ := strconv.ParseUint(m[3], 10, 64)
	desc := m[4]
	typ := strings.Fields(strings.ReplaceAll(desc, ":", " ") + " ?")[0]
	p.lastType = typ
	switch {
	case strings.HasPrefix(desc, "GTID "):
		p.close()
		f := strings.Fields(desc)
		p.cur = &BinTxn{File: p.file, Start: at, GTID: f[1]}
		if strings.Contains(desc, " ddl") {
			p.cur.Statement, p.cur.DDL = true, true
		}
	case outsideTxn(typ, desc):
		p.close()
		return nil
	}
	if p.cur == nil {
		return nil
	}
	p.cur.End, p.cur.Time = end, ts
	if typ == "Begin_load_query" || typ == "Execute_load_query" {
		p.cur.Statement, p.cur.Load = true, true
	}
	if typ == "Query" {
		p.lastThread = ""
		if i := strings.Index(desc, "thread_id="); i >= 0 {
			p.lastThread = strings.Fields(desc[i+len("thread_id="):])[0]
		}
		if i := strings.Index(desc, "error_code="); i >= 0 {
			code := strings.Fields(desc[i+len("error_code="):])[0]
			if code != "0" {
				p.cur.ErrorCodes++
			}
		}
	}
	return nil
}

// outsideTxn reports whether an event belongs to no transaction.
func outsideTxn(typ, desc string) bool {
	switch typ {
	case "Start", "Rotate", "Stop", "Format_desc":
		return true
	}
	return strings.HasPrefix(desc, "Gtid list") || strings.HasPrefix(desc, "Binlog checkpoint")
}

// body looks at a line of an event's text: query texts tell XA,
// ROLLBACK and statement-format transactions apart.
func (p *textParser) body(line string) {
	if p.cur == nil {
		return
	}
	s := strings.TrimSpace(line)
	u := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(u, "XA START") || strings.HasPrefix(u, "XA END") || strings.HasPrefix(u, "XA PREPARE") ||
		strings.HasPrefix(u, "XA COMMIT"):
		p.cur.Refused = "XA"
	case p.lastType == "Query" && u == "ROLLBACK":
		p.cur.RolledBack, p.cur.Statement = true, true
	case p.lastType == "Query" && isStatementText(u):
		p.cur.Statement = true
		for _, op := range tempOps(u) {
			p.cur.TempOps = append(p.cur.TempOps, op[:1]+p.lastThread+":"+op[1:])
		}
	}
}

// tempOps returns the temporary tables a statement (upper case) creates
// ("+name") or drops ("-name"), names without schema or quotes.
func tempOps(u string) []string {
	var op, rest string
	switch {
	case strings.HasPrefix(u, "CREATE TEMPORARY TABLE "):
		op, rest = "+", strings.TrimPrefix(u, "CREATE TEMPORARY TABLE ")
		rest = strings.TrimPrefix(rest, "IF NOT EXISTS ")
		rest = strings.Fields(strings.ReplaceAll(rest, "(", " ") + " ")[0]
	case strings.HasPrefix(u, "DROP TEMPORARY TABLE "), strings.HasPrefix(u, "DROP /*!40005 TEMPORARY */ TABLE "):
		// The second is how the source logs the drop of a closed
		// session's temporary tables.
		op, rest = "-", u[strings.Index(u, "TABLE ")+len("TABLE "):]
		rest = strings.TrimPrefix(rest, "IF EXISTS ")
		if i := strings.Index(rest, "/*"); i >= 0 {
			rest = rest[:i]
		}
	default:
		return nil
	}
	var out []string
	for _, name := range strings.Split(rest, ",") {
		name = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "`", ""))
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if name != "" {
			out = append(out, op+name)
		}
	}
	return out
}

// isStatementText reports whether a query event's line is a statement (not
// a SET of the session context, BEGIN, COMMIT or a comment).
func isStatementText(u string) bool {
	if u == "" || strings.HasPrefix(u, "SET ") || strings.HasPrefix(u, "/*") || strings.HasPrefix(u, "#") ||
		strings.HasPrefix(u, "USE ") || strings.HasPrefix(u, "START TRANSACTION") || u == "BEGIN" || u == "COMMIT" ||
		strings.HasPrefix(u, "COMMIT/*") || strings.HasPrefix(u, "DELIMITER") {
		return false
	}
	return true
}
