package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// templateVersion changes whenever the way a template is built changes, so
// that an old template left in the temp dir is not reused.
const templateVersion = "2"

// templateSQL runs at the end of mariadb-install-db. Bootstrap mode starts
// with the grant tables off; FLUSH PRIVILEGES turns them on so that account
// statements work. mariadb-install-db with normal root authentication already
// creates root@127.0.0.1 on MariaDB 10.11; this makes sure of it elsewhere,
// since replication and TCPDSN log in over TCP.
const templateSQL = `FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
`

// templateRoot is the directory, shared by every process of this user, that
// holds the template datadirs.
func templateRoot() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("binlog-replay-sandbox-%d", os.Getuid()))
}

// templateKey names a template after the programs that built it, so that an
// upgraded MariaDB gets a new template.
func templateKey(bins binaries) string {
	h := sha256.New()
	fmt.Fprintf(h, "v%s\n", templateVersion)
	for _, p := range []string{bins.server, bins.installDB} {
		st, err := os.Stat(p)
		if err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, st.Size(), st.ModTime().UnixNano())
		} else {
			fmt.Fprintf(h, "%s ?\n", p)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// templateDatadir returns the path of a freshly installed datadir that
// servers copy instead of running mariadb-install-db each time. The first
// caller on the machine builds it (about a second); later callers, in this
// process or in parallel test binaries, reuse it. A lock file serializes the
// build, and the finished template appears by an atomic rename, so a reader
// never sees a half-built one. Templates are never modified once built.
func templateDatadir(ctx context.Context, bins binaries) (string, error) {
	root := templateRoot()
	final := filepath.Join(root, "tpl-"+templateKey(bins))
	datadir := filepath.Join(final, "data")
	if _, err := os.Stat(datadir); err == nil {
		return datadir, nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("create template dir: %w", err)
	}
	unlock, err := lockFile(filepath.Join(root, "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(datadir); err == nil {
		return datadir, nil // another process built it while we waited
	}
	removeStaleBuilds(root)
	build, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return "", fmt.Errorf("create template build dir: %w", err)
	}
	if err := installDB(ctx, bins, build); err != nil {
		os.RemoveAll(build)
		return "", err
	}
	if err := sparsify(filepath.Join(build, "data")); err != nil {
		os.RemoveAll(build)
		return "", err
	}
	if err := os.Rename(build, final); err != nil {
		os.RemoveAll(build)
		return "", fmt.Errorf("publish template %s: %w", final, err)
	}
	return datadir, nil
}

// sparsify rewrites the datadir dir with its zero blocks as holes. A fresh
// redo log is 96 MiB of which a few KiB are data: copies of a sparse template
// only read and write the data.
func sparsify(dir string) error {
	tmp := dir + ".sparse"
	if err := copyTree(dir, tmp); err != nil {
		return fmt.Errorf("sparsify template: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("sparsify template: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("sparsify template: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, creating it if needed, and
// returns the function that releases it. The lock dies with the process.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// removeStaleBuilds deletes build dirs left by processes that died while
// building a template. It must be called with the lock held: only the lock
// holder builds, so any build dir present then is abandoned.
func removeStaleBuilds(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "build-") {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// installDB runs mariadb-install-db into dir/data, with dir/install.log
// holding its output. On failure the error carries the tail of that output.
func installDB(ctx context.Context, bins binaries, dir string) error {
	extra := filepath.Join(dir, "extra.sql")
	if err := os.WriteFile(extra, []byte(templateSQL), 0o600); err != nil {
		return fmt.Errorf("write template SQL: %w", err)
	}
	logPath := filepath.Join(dir, "install.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create install log: %w", err)
	}
	defer logFile.Close()
	args := []string{
		"--no-defaults",
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--datadir=" + filepath.Join(dir, "data"),
		"--extra-file=" + extra,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, bins.installDB, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w\n%s", bins.installDB, err, tailFile(logPath, 20))
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "mysql")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("run %s: no mysql schema created\n%s", bins.installDB, tailFile(logPath, 20))
		}
		return fmt.Errorf("check template: %w", err)
	}
	return nil
}
