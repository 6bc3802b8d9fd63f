// Package sandbox starts throwaway MariaDB servers for tests and for the
// bench and demo commands.
//
// Each server lives in its own short temp dir (/tmp/mdb-XXXX) holding the
// datadir, the unix socket, the pid file, the error log and, when enabled,
// the binary logs. Its datadir is a copy of a template made once per machine
// by mariadb-install-db (see templateDatadir) or of a caller's base backup
// (Options.FromDatadir), so a server starts in well under a second.
//
// Servers are separate processes. Close stops them and removes their dirs.
// A test binary that is killed before Close does not leave them running on
// Linux, where each server gets SIGKILL when its parent dies (see childAttr);
// their dirs stay in os.TempDir() until the next Start on the machine removes
// them (see removeOrphans). The template datadirs stay in
// os.TempDir()/binlog-replay-sandbox-<uid>/ for later runs (~7 MB each, one
// per MariaDB build); delete that directory to force a fresh install.
package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// startTimeout bounds how long Start and Restart wait for a server to
	// accept connections.
	startTimeout = 60 * time.Second
	// stopTimeout bounds how long Stop waits for a clean shutdown before it
	// sends SIGKILL.
	stopTimeout = 60 * time.Second
	// maxSocketPath keeps the socket path under the 108-byte sun_path limit.
	maxSocketPath = 100
)

// Options configure a server. The zero value is a server with binary logging
// off, fast (non-durable) commits and a fresh datadir.
type Options struct {
	// Binlog turns log_bin on; the files are <Dir>/mysql-bin.NNNNNN.
	Binlog bool
	// BinlogFormat is "ROW" (the default), "MIXED" or "STATEMENT".
	BinlogFormat string
	// ServerID is the server_id; 0 picks one from the port, which is unique
	// among the servers running on this machine.
	ServerID uint32
	// Args are extra mariadbd arguments, e.g. "--binlog-row-image=MINIMAL".
	// They come last, so they override the sandbox's own settings.
	Args []string
	// FromDatadir, if set, makes the server start from a copy of this
	// datadir (a base backup, such as one made by Snapshot) instead of a
	// fresh install. The directory itself is never modified.
	FromDatadir string
	// Durable sets innodb_flush_log_at_trx_commit=1 and sync_binlog=1; by
	// default they are 2 and 0, which is much faster for tests.
	Durable bool
	// Env are environment variables ("NAME=value") added to mariadbd's,
	// e.g. an LD_PRELOAD library (see internal/syncdelay).
	Env []string
}

// Server is a running (or stopped) throwaway MariaDB server. Its exported
// fields are read-only; Pid changes when the server is restarted and is 0
// while it is stopped. A Server is safe for concurrent use.
type Server struct {
	Dir      string // the server's own temp dir, removed by Close
	Datadir  string // <Dir>/data
	Socket   string // unix socket path
	ErrorLog string // mariadbd's error log
	Port     int    // TCP port on 127.0.0.1
	ServerID uint32 // server_id
	Pid      int    // process id of the running mariadbd; 0 when stopped

	opts Options
	bins binaries
	// portLock reserves Port while the server lives (reservePort).
	portLock *os.File

	mu     sync.Mutex
	proc   *process // nil while stopped
	closed bool
}

// process is one run of mariadbd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// Start creates a server directory, fills its datadir (a copy of the shared
// template, or of opts.FromDatadir), starts mariadbd and waits until it
// accepts connections over its socket. ctx bounds only the start-up: the
// server keeps running after ctx ends, until Stop, Kill or Close. On error
// nothing is left behind, and the error carries the tail of the error log.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := validate(&opts); err != nil {
		return nil, err
	}
	bins, err := findBinaries()
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	src := opts.FromDatadir
	if src == "" {
		if src, err = templateDatadir(ctx, bins); err != nil {
			return nil, fmt.Errorf("start mariadb: %w", err)
		}
	}
	dir, err := shortTempDir()
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	s := &Server{
		Dir:      dir,
		Datadir:  filepath.Join(dir, "data"),
		Socket:   filepath.Join(dir, "mysqld.sock"),
		ErrorLog: filepath.Join(dir, "error.log"),
		opts:     opts,
		bins:     bins,
	}
	if err := s.prepareDir(src); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	// A port reserved can still be taken by someone else (not a sandbox)
	// before mariadbd binds it: try again with a new port in that case.
	for attempt := 1; ; attempt++ {
		if s.Port, s.portLock, err = reservePort(); err != nil {
			break
		}
		s.ServerID = opts.ServerID
		if s.ServerID == 0 {
			s.ServerID = uint32(s.Port)
		}
		err = s.startProcess(ctx)
		if err == nil || attempt == 3 || !portTaken(s.ErrorLog) {
			break
		}
		s.portLock.Close()
		os.Truncate(s.ErrorLog, 0)
	}
	if err != nil {
		if s.portLock != nil {
			s.portLock.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mariadb: %w", err)
	}
	return s, nil
}

// validate checks opts and fills in defaults.
func validate(opts *Options) error {
	if opts.BinlogFormat == "" {
		opts.BinlogFormat = "ROW"
	}
	opts.BinlogFormat = strings.ToUpper(opts.BinlogFormat)
	if !slices.Contains([]string{"ROW", "MIXED", "STATEMENT"}, opts.BinlogFormat) {
		return fmt.Errorf("start mariadb: unknown binlog format %q", opts.BinlogFormat)
	}
	if opts.FromDatadir != "" {
		st, err := os.Stat(opts.FromDatadir)
		if err != nil {
			return fmt.Errorf("start mariadb from datadir: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("start mariadb from datadir %s: not a directory", opts.FromDatadir)
		}
	}
	return nil
}

// shortTempDir makes the server directory. It prefers os.TempDir(), but falls
// back to /tmp when that would make the socket path too long. It first
// removes the dirs that killed test binaries left there (see removeOrphans).
func shortTempDir() (string, error) {
	base := os.TempDir()
	if len(base)+len("/mdb-0123456789/mysqld.sock") > maxSocketPath {
		base = "/tmp"
	}
	removeOrphans(base)
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return "", fmt.Errorf("create server dir: %w", err)
	}
	if err := writeOwner(dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create server dir: %w", err)
	}
	return dir, nil
}

// prepareDir copies the datadir from src and creates the server's tmpdir.
func (s *Server) prepareDir(src string) error {
	if err := copyTree(src, s.Datadir); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(s.Dir, "tmp"), 0o700); err != nil {
		return fmt.Errorf("create server tmpdir: %w", err)
	}
	return nil
}

// portTaken reports whether the error log says the TCP port was in use.
func portTaken(errorLog string) bool {
	tail := tailFile(errorLog, 30)
	return strings.Contains(tail, "Address already in use") ||
		strings.Contains(tail, "Do you already have another server running on port")
}

// args is the mariadbd command line. --no-defaults must come first.
func (s *Server) args() []string {
	flushAtCommit, syncBinlog := "2", "0"
	if s.opts.Durable {
		flushAtCommit, syncBinlog = "1", "1"
	}
	a := []string{
		"--no-defaults",
		"--datadir=" + s.Datadir,
		"--tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"--socket=" + s.Socket,
		"--port=" + fmt.Sprint(s.Port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error=" + s.ErrorLog,
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=128M",
		"--max-allowed-packet=1G",
		"--server-id=" + fmt.Sprint(s.ServerID),
		"--innodb-flush-log-at-trx-commit=" + flushAtCommit,
		"--sync-binlog=" + syncBinlog,
	}
	if os.Geteuid() == 0 {
		a = append(a, "--user=root")
	}
	if s.opts.Binlog {
		a = append(a,
			"--log-bin="+filepath.Join(s.Dir, "mysql-bin"),
			"--binlog-format="+s.opts.BinlogFormat,
			"--binlog-checksum=CRC32",
		)
	}
	return append(a, s.opts.Args...)
}
