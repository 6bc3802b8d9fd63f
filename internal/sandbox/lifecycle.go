package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers the "mysql" driver
)

// dsnParams are the go-sql-driver parameters of every DSN the sandbox gives.
const dsnParams = "multiStatements=false&parseTime=false&interpolateParams=true&maxAllowedPacket=0"

// DSN returns a go-sql-driver DSN for database db (may be empty) over the
// server's unix socket, as user root with no password.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("root@unix(%s)/%s?%s", s.Socket, url.PathEscape(db), dsnParams)
}

// TCPDSN is like DSN but connects over TCP to 127.0.0.1:Port, as a replica
// or a remote client would.
func (s *Server) TCPDSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?%s", s.Port, url.PathEscape(db), dsnParams)
}

// Open opens a connection pool to database db over the unix socket and pings
// it. Its connections run with autocommit on, whatever the server's
// default: a test's reads of a server started with --autocommit=0 must not
// hold their locks. On error (including ctx ending) the pool is closed and
// the error returned.
func (s *Server) Open(ctx context.Context, db string) (*sql.DB, error) {
	pool, err := sql.Open("mysql", s.DSN(db)+"&autocommit=1")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Socket, err)
	}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping %s: %w", s.Socket, err)
	}
	return pool, nil
}

// startProcess runs mariadbd and waits until it accepts connections. The
// caller holds s.mu or has not shared s yet. On error the process is killed
// and the error carries the tail of the error log.
func (s *Server) startProcess(ctx context.Context) error {
	if s.proc != nil {
		return fmt.Errorf("start mariadbd pid %d: already running", s.Pid)
	}
	logFile, err := os.OpenFile(s.ErrorLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open error log: %w", err)
	}
	// Output that mariadbd writes before it opens --log-error lands there too.
	cmd := exec.Command(s.bins.server, s.args()...)
	cmd.Dir = s.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	if len(s.opts.Env) > 0 {
		cmd.Env = append(os.Environ(), s.opts.Env...)
	}
	err = cmd.Start()
	logFile.Close()
	if err != nil {
		return fmt.Errorf("run %s: %w", s.bins.server, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc, s.Pid = p, cmd.Process.Pid
	if err := s.waitReady(ctx, p); err != nil {
		s.killLocked()
		return err
	}
	return nil
}

// waitReady pings the server over its socket until it answers, the process
// exits, startTimeout passes or ctx ends. The server is a separate process
// with no way to tell us it is ready, hence the polling.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	pool, err := sql.Open("mysql", s.DSN("")+"&timeout=2s")
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Socket, err)
	}
	defer pool.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pingCtx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
		err = pool.PingContext(pingCtx)
		cancelPing()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("mariadbd pid %d exited during start-up (%v); error log %s:\n%s",
				s.Pid, p.err, s.ErrorLog, tailFile(s.ErrorLog, 30))
		case <-ctx.Done():
			return fmt.Errorf("wait for mariadbd pid %d on %s: %w (last ping: %v); error log %s:\n%s",
				s.Pid, s.Socket, ctx.Err(), err, s.ErrorLog, tailFile(s.ErrorLog, 30))
		case <-tick.C:
		}
	}
}

// Stop shuts the server down cleanly: SIGTERM to its pid, then a wait for it
// to exit. If it has not exited after a minute it gets SIGKILL and Stop
// returns an error. Stop on a stopped server does nothing and returns nil. It
// also returns an error if the server had exited by itself with a failure.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	pid := s.Pid
	defer func() { s.proc, s.Pid = nil, 0 }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop mariadbd pid %d: %w", pid, err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("stop mariadbd pid %d: still running after %s, killed; error log %s:\n%s",
			pid, stopTimeout, s.ErrorLog, tailFile(s.ErrorLog, 30))
	}
	if p.err != nil {
		return fmt.Errorf("stop mariadbd pid %d: exit: %w; error log %s:\n%s",
			pid, p.err, s.ErrorLog, tailFile(s.ErrorLog, 30))
	}
	return nil
}

// Kill sends SIGKILL to the server, as a crash would, and waits until it has
// exited. The datadir is left as the crash left it; Restart recovers it.
// Kill on a stopped server does nothing and returns nil.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	defer func() { s.proc, s.Pid = nil, 0 }()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill mariadbd pid %d: %w", s.Pid, err)
	}
	<-p.done
	return nil
}

// Restart stops the server if it is running (cleanly, as Stop does) and
// starts it again on the same datadir, socket and port, waiting until it
// accepts connections. ctx bounds only the start-up. A server that crashed or
// was killed goes through crash recovery. On error the server is left
// stopped and the error carries the tail of the error log.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("restart mariadb %s: server closed", s.Dir)
	}
	// Whatever Stop reports, the process is gone afterwards: start anyway.
	stopErr := s.stopLocked()
	if err := s.startProcess(ctx); err != nil {
		return fmt.Errorf("restart mariadb %s: %w", s.Dir, errors.Join(stopErr, err))
	}
	return nil
}

// Close stops the server (as Stop does) and removes its directory, datadir
// and binary logs included. It is idempotent; later calls return nil.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	stopErr := s.stopLocked()
	if s.portLock != nil {
		s.portLock.Close()
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove server dir: %w", err))
	}
	return stopErr
}

// Snapshot makes a consistent base backup: it stops the server cleanly,
// copies its datadir to dir (which must not exist or be an empty directory)
// and starts the server again. The copy can be passed as
// Options.FromDatadir; it holds no binary logs, which live outside the
// datadir. ctx bounds the restart. If the copy fails the server is still
// restarted and the error returned. If the server cannot be stopped cleanly
// (it had crashed, or needed SIGKILL) nothing is copied, the server is left
// stopped and the error returned.
func (s *Server) Snapshot(ctx context.Context, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("snapshot mariadb %s: server closed", s.Dir)
	}
	if err := s.stopLocked(); err != nil {
		return fmt.Errorf("snapshot mariadb %s: %w", s.Dir, err)
	}
	copyErr := copyTree(s.Datadir, dir)
	if copyErr != nil {
		copyErr = fmt.Errorf("snapshot mariadb %s to %s: %w", s.Dir, dir, copyErr)
	}
	if err := s.startProcess(ctx); err != nil {
		return errors.Join(copyErr, fmt.Errorf("snapshot mariadb %s: restart: %w", s.Dir, err))
	}
	return copyErr
}

// BinlogFiles returns the absolute paths of the server's binary log files,
// oldest first, as listed in its index file. It returns an error if the
// server was started without Options.Binlog or the index cannot be read.
func (s *Server) BinlogFiles() ([]string, error) {
	if !s.opts.Binlog {
		return nil, fmt.Errorf("list binlogs of %s: binlog not enabled", s.Dir)
	}
	index := filepath.Join(s.Dir, "mysql-bin.index")
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, fmt.Errorf("list binlogs: %w", err)
	}
	var files []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(s.Datadir, line) // relative to the datadir
		}
		files = append(files, line)
	}
	return files, nil
}

// tailFile returns at most the last n lines of the file at path, or a note
// saying why it could not be read.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxTail = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxTail {
		f.Seek(st.Size()-maxTail, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(data), n)
}
