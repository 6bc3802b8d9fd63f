package syncdelay

import (
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// TestServerCommits preloads the library into a durable MariaDB server:
// each autocommit insert must wait the delay at least once (the redo log's
// fdatasync), and a server without it must not.
func TestServerCommits(t *testing.T) {
	lib := build(t)
	const d = 50 * time.Millisecond
	for _, slow := range []bool{false, true} {
		o := sandbox.Options{Durable: true}
		if slow {
			o.Env = Env(lib, d)
		}
		srv := sandbox.ForTest(t, o)
		db, err := srv.Open(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB"} {
			if _, err := db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		const n = 5
		begin := time.Now()
		for i := range n {
			if _, err := db.ExecContext(t.Context(), "INSERT INTO d.t VALUES (?)", i); err != nil {
				t.Fatal(err)
			}
		}
		per := time.Since(begin) / n
		t.Logf("delay library loaded: %v; %s per durable commit", slow, per)
		if slow && per < d || !slow && per >= d {
			t.Errorf("delay library loaded: %v; %s per durable commit with a %s delay", slow, per, d)
		}
	}
}
