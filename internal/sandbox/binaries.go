package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaries holds the absolute paths of the MariaDB programs a sandbox runs.
type binaries struct {
	server    string // mariadbd
	installDB string // mariadb-install-db
}

// searchDirs are looked at after $PATH: Debian puts mariadbd in /usr/sbin,
// which is often not on a normal user's PATH.
var searchDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}

// findProgram returns the absolute path of the first of names found on $PATH
// or in searchDirs.
func findProgram(names ...string) (string, error) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return filepath.Abs(p)
		}
	}
	for _, dir := range searchDirs {
		for _, name := range names {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("find %s: not on PATH nor in %v", names[0], searchDirs)
}

// findBinaries locates mariadbd and mariadb-install-db (or their older
// mysqld / mysql_install_db names as shipped by MariaDB).
func findBinaries() (binaries, error) {
	server, err1 := findProgram("mariadbd", "mysqld")
	installDB, err2 := findProgram("mariadb-install-db", "mysql_install_db")
	if err := errors.Join(err1, err2); err != nil {
		return binaries{}, err
	}
	return binaries{server: server, installDB: installDB}, nil
}

// Available reports whether the MariaDB server programs the sandbox needs
// (mariadbd and mariadb-install-db) can be found on $PATH, /usr/sbin or
// /usr/bin. It returns nil if they can, or an error naming what is missing.
func Available() error {
	_, err := findBinaries()
	return err
}
