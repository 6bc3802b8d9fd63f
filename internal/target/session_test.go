package target

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// packetDriver is a database/sql driver whose connections record the SQL
// of each ExecContext call: one packet each.
type packetDriver struct {
	mu      sync.Mutex
	packets []string
}

func (d *packetDriver) Open(string) (driver.Conn, error) { return &packetConn{d: d}, nil }

// Connect and Driver make packetDriver a driver.Connector, for sql.OpenDB.
func (d *packetDriver) Connect(context.Context) (driver.Conn, error) { return d.Open("") }
func (d *packetDriver) Driver() driver.Driver                        { return d }

type packetConn struct{ d *packetDriver }

func (c *packetConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (c *packetConn) Close() error                        { return nil }
func (c *packetConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

func (c *packetConn) ExecContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.packets = append(c.d.packets, query)
	return driver.RowsAffected(0), nil
}

// TestBinlogStatementEndsPacket: a BINLOG statement of row events is sent
// in a packet of its own, never with statements after it: MariaDB 10.11
// answers it without the "more results" flag, and a statement after it in
// the packet breaks the connection (docs/design.md, "Commits over a
// network"). The statements before and after it share packets.
func TestBinlogStatementEndsPacket(t *testing.T) {
	d := &packetDriver{}
	db := sql.OpenDB(d)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess := &Session{conn: conn, maxPacket: 64 << 20, utf8: true}
	row := func(b byte) sqlgen.Stmt {
		return sqlgen.Stmt{Events: []*txn.Event{{Kind: txn.EventTableMap, Raw: []byte{19, b}}, {Kind: txn.EventRows, Raw: []byte{30, b}}}}
	}
	format := sqlgen.FormatStatement(&txn.Format{Raw: []byte{15}})
	stmts := []sqlgen.Stmt{{SQL: "SET @a = 1"}, {SQL: "SET @b = 2"}, format, row(1), row(2), {SQL: "SET @c = 3"}, {SQL: "SET @d = 4"}, row(3)}
	if err := sess.Exec(ctx, stmts); err != nil {
		t.Fatal(err)
	}
	for i, p := range d.packets {
		if j := strings.Index(p, "BINLOG '"); j >= 0 && !strings.HasSuffix(p, "'") {
			t.Errorf("packet %d has statements after its BINLOG statement: %q", i, p)
		}
		if j := strings.Index(p, "BINLOG '"); j > 0 {
			t.Errorf("packet %d has statements before its BINLOG statement: %q", i, p)
		}
	}
	if len(d.packets) != 4 || d.packets[0] != "SET @a = 1;\nSET @b = 2" || d.packets[2] != "SET @c = 3;\nSET @d = 4" {
		t.Errorf("packets %q: want the two SETs, the BINLOG statement, the two SETs, the BINLOG statement", d.packets)
	}
}
