package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/binlog/remote"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
)

// remoteSource returns the remote.Source of sandbox server s over TCP.
func remoteSource(s *sandbox.Server) remote.Source {
	return remote.Source{Network: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", s.Port), User: "root", ServerID: 4000001}
}

// readRemote reads every transaction src sends from start; it returns them
// with the error that ended reading (nil for a clean io.EOF).
func readRemote(t testing.TB, src remote.Source, opts Options) ([]*txn.Txn, error) {
	t.Helper()
	r, err := NewRemoteReader(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("NewRemoteReader: %v", err)
	}
	return drain(r)
}

// remoteWorkload runs the common workload on a ROW server, with binlog
// rotations in the middle and a second database, and returns the server
// and its files.
func remoteWorkload(t *testing.T) (*sandbox.Server, []string) {
	t.Helper()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW",
		Args: []string{"--binlog-row-metadata=FULL"}})
	runWorkload(t, s)
	files := runStatements(t, s, "FLUSH BINARY LOGS", "CREATE DATABASE e", "USE e",
		"CREATE TABLE u (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO u VALUES (1, 'a'), (2, 'b'), (3, 'c')", "FLUSH BINARY LOGS",
		"UPDATE u SET v = 'z' WHERE id < 3", "BEGIN", "DELETE FROM u WHERE id = 1",
		"INSERT INTO d.t (id, vc) VALUES (9, 'nine')", "COMMIT")
	if len(files) != 3 {
		t.Fatalf("%d binlog files, want 3", len(files))
	}
	return s, files
}

// requireSameTxns fails the test unless got and want hold the same
// transactions: positions, GTIDs, kinds, times, events' positions and
// exact bytes, and decoded rows.
func requireSameTxns(t *testing.T, got, want []*txn.Txn) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d transactions from the source, %d from its files", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Start != w.Start || g.End != w.End || g.GTID != w.GTID || g.Kind != w.Kind || !g.Time.Equal(w.Time) ||
			g.Bytes != w.Bytes || g.ServerID != w.ServerID || len(g.Events) != len(w.Events) {
			t.Fatalf("transaction %d: from the source %s..%s %s %v %d events, from the files %s..%s %s %v %d events",
				i, g.Start, g.End, g.GTID, g.Kind, len(g.Events), w.Start, w.End, w.GTID, w.Kind, len(w.Events))
		}
		if g.Format.ServerVersion != w.Format.ServerVersion || g.Format.Checksum != w.Format.Checksum ||
			g.Format.Pos != w.Format.Pos {
			t.Fatalf("transaction %d: format %+v from the source, %+v from the files", i, g.Format, w.Format)
		}
		for j, ge := range g.Events {
			we := w.Events[j]
			if ge.Pos != we.Pos || ge.Type != we.Type || !bytes.Equal(ge.Raw, we.Raw) {
				t.Fatalf("transaction %d event %d: %s at %s (%d bytes) from the source, %s at %s (%d bytes) from the files",
					i, j, ge.TypeName, ge.Pos, len(ge.Raw), we.TypeName, we.Pos, len(we.Raw))
			}
			if !reflect.DeepEqual(ge.Rows, we.Rows) || !reflect.DeepEqual(ge.Query, we.Query) {
				t.Fatalf("transaction %d event %d (%s at %s): decoded differently", i, j, ge.TypeName, ge.Pos)
			}
		}
	}
}

func TestRemoteMatchesFiles(t *testing.T) {
	t.Parallel()
	s, files := remoteWorkload(t)
	src := remoteSource(s)
	opts := Options{DecodeRows: true, DecodeWorkers: 2}
	want := mustReadAll(t, files, opts)
	if len(want) < 15 {
		t.Fatalf("only %d transactions in the workload", len(want))
	}

	t.Run("FromFirstFile", func(t *testing.T) {
		o := opts
		o.Start = txn.Position{File: logfile.Name(files[0]), Offset: 4}
		got, err := readRemote(t, src, o)
		if err != nil {
			t.Fatal(err)
		}
		requireSameTxns(t, got, want)
	})
	// Mid-way, in each file: the source starts there, after sending the
	// file's format description.
	for _, k := range []int{5, len(want) - 6, len(want) - 1} {
		t.Run(fmt.Sprintf("FromPosition%d", k), func(t *testing.T) {
			o := opts
			o.Start = want[k].Start
			got, err := readRemote(t, src, o)
			if err != nil {
				t.Fatal(err)
			}
			requireSameTxns(t, renumber(got, k), want[k:])
		})
	}
	t.Run("FromGTID", func(t *testing.T) {
		k := len(want) - 5
		g := src
		g.StartGTID = want[k-1].GTID.String()
		got, err := readRemote(t, g, opts)
		if err != nil {
			t.Fatal(err)
		}
		requireSameTxns(t, renumber(got, k), want[k:])
	})
	t.Run("AtTheEnd", func(t *testing.T) {
		o := opts
		o.Start = want[len(want)-1].End
		got, err := readRemote(t, src, o)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %d transactions and %v from the end of the log, want none and io.EOF", len(got), err)
		}
	})
	// A start inside a transaction or inside an event is an error naming
	// the file, never a transaction cut short.
	for _, start := range []txn.Position{want[5].Events[1].Pos, {File: want[5].Start.File, Offset: want[5].Start.Offset + 1}} {
		t.Run(fmt.Sprintf("NotABoundary%d", start.Offset), func(t *testing.T) {
			o := opts
			o.Start = start
			got, err := readRemote(t, src, o)
			var e *event.Error
			if len(got) != 0 || !errors.As(err, &e) || e.File != start.File {
				t.Fatalf("got %d transactions and %v from %s, want an error", len(got), err, start)
			}
			t.Logf("from %s: %v", start, err)
		})
	}
	t.Run("Format", func(t *testing.T) {
		f, err := remote.ReadFormat(context.Background(), src, want[len(want)-1].Start)
		if err != nil {
			t.Fatal(err)
		}
		local, err := logfile.ReadFormat(files[2])
		if err != nil {
			t.Fatal(err)
		}
		// The source clears the in-use flag of its active file's format
		// description, as it does when it closes the file.
		raw := append([]byte(nil), local.Raw...)
		raw[17] &^= event.FlagInUse
		if f.ServerVersion != local.ServerVersion || f.Pos != local.Pos || !bytes.Equal(f.Raw, raw) {
			t.Fatalf("format %s at %s from the source, %s at %s from the file\n% x\n% x", f.ServerVersion, f.Pos, local.ServerVersion, local.Pos, f.Raw, local.Raw)
		}
	})
}

// renumber sets the Seq of txns as if read from the k-th transaction on.
func renumber(txns []*txn.Txn, k int) []*txn.Txn {
	for _, t := range txns {
		t.Seq += uint64(k)
	}
	return txns
}

func TestRemoteRefused(t *testing.T) {
	t.Parallel()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	files := runStatements(t, s, "CREATE USER 'weak'@'%'", "GRANT SELECT ON *.* TO 'weak'@'%'")
	src := remoteSource(s)
	_, err := readRemote(t, src, Options{Start: txn.Position{File: "mysql-bin.999999", Offset: 4}})
	var e *event.Error
	if !errors.As(err, &e) || e.File != "mysql-bin.999999" || !strings.Contains(err.Error(), "source 127.0.0.1:") {
		t.Fatalf("unknown start file: got %v", err)
	}
	weak := src
	weak.User = "weak"
	_, err = remote.ReadFormat(context.Background(), weak, txn.Position{File: logfile.Name(files[0]), Offset: 4})
	if err == nil || !strings.Contains(err.Error(), "REPLICATION SLAVE") {
		t.Fatalf("user without REPLICATION SLAVE: got %v", err)
	}
}

// cutProxy forwards TCP connections to addr, and closes each one after
// limit bytes came from addr.
func cutProxy(t *testing.T, addr string, limit int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(up, c); up.Close() }()
			go func() { defer wg.Done(); io.CopyN(c, up, limit); c.Close(); up.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestRemoteConnectionLost(t *testing.T) {
	t.Parallel()
	s, files := remoteWorkload(t)
	want := mustReadAll(t, files, Options{})
	src := remoteSource(s)
	// Cut after the handshake, inside the stream of events.
	src.Address = cutProxy(t, src.Address, 6000)
	got, err := readRemote(t, src, Options{Start: txn.Position{File: logfile.Name(files[0]), Offset: 4}})
	var e *event.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "lost the connection to source "+src.Address) {
		t.Fatalf("got %d transactions and %v, want a lost connection", len(got), err)
	}
	if len(got) == 0 || len(got) >= len(want) {
		t.Fatalf("got %d of %d transactions before the cut", len(got), len(want))
	}
	requireSameTxns(t, got, want[:len(got)])
	// The error names where the stream stopped: past the last transaction
	// returned, before the end of the next.
	at, last, next := txn.Position{File: e.File, Offset: e.Offset}, got[len(got)-1].End, want[len(got)].End
	if posBefore(at, last) || !posBefore(at, next) {
		t.Fatalf("error names %s; the last transaction returned ends at %s, the next at %s", at, last, next)
	}
	t.Logf("%v", err)
}

// posBefore orders positions in files of one zero-padded sequence.
func posBefore(a, b txn.Position) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Offset < b.Offset
}

// TestRemoteLargeEvent reads, over the unix socket, an event larger than
// one protocol packet (16 MiB), which the source splits in several.
func TestRemoteLargeEvent(t *testing.T) {
	t.Parallel()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW", Args: []string{"--max-allowed-packet=64M"}})
	files := runStatements(t, s, "CREATE DATABASE d", "CREATE TABLE d.b (id INT PRIMARY KEY, v LONGBLOB)",
		"INSERT INTO d.b VALUES (1, REPEAT('x', 17 << 20))", "INSERT INTO d.b VALUES (2, 'small')")
	want := mustReadAll(t, files, Options{})
	src := remote.Source{Network: "unix", Address: s.Socket, User: "root", ServerID: 4000003}
	got, err := readRemote(t, src, Options{Start: txn.Position{File: logfile.Name(files[0]), Offset: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 4 || len(want[2].Events) < 2 || len(want[2].Events[1].Raw) < 17<<20 {
		t.Fatalf("%d transactions; want 4, the third with a row event over 17 MiB", len(want))
	}
	requireSameTxns(t, got, want)
}
