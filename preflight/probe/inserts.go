package probe

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// InsertProbe applies txns transactions of rowsPerTxn rows each (a
// multi-row INSERT of sysbench-like rows, about 190 bytes) to a scratch
// table, committed in groups of groupTxns as a replay worker would: the
// rate of row writes when none of the binlogs' own transactions could be
// applied.
func InsertProbe(ctx context.Context, sc *Scratch, txns, rowsPerTxn, groupTxns int, why string) (*ApplyProbe, error) {
	conn, err := sc.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	table, _ := sc.table("inserts")
	if _, err := conn.ExecContext(ctx, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, "+
		"pad CHAR(60) NOT NULL, KEY (k)) ENGINE=InnoDB"); err != nil {
		return nil, fmt.Errorf("create the probe's table: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION autocommit=0"); err != nil {
		return nil, fmt.Errorf("probe session: %w", err)
	}
	const rowBytes = 8 + 4 + 120 + 60
	p := &ApplyProbe{Method: "inserts", Why: why}
	id := 0
	var b strings.Builder
	start := time.Now()
	for done := 0; done < txns; {
		n := min(groupTxns, txns-done)
		for i := 0; i < n; i++ {
			b.Reset()
			b.WriteString("INSERT INTO " + table + " VALUES ")
			for r := 0; r < rowsPerTxn; r++ {
				id++
				if r > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "(%d, %d, '%0120d', '%060d')", id, id*7919%100000, id, id)
			}
			if _, err := conn.ExecContext(ctx, b.String()); err != nil {
				return nil, fmt.Errorf("insert probe rows: %w", err)
			}
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			return nil, fmt.Errorf("commit probe rows: %w", err)
		}
		done += n
		p.Groups++
	}
	p.Seconds = time.Since(start).Seconds()
	p.Txns, p.Rows, p.Bytes = txns, txns*rowsPerTxn, int64(txns*rowsPerTxn*rowBytes)
	return p, nil
}
