package startcheck

import (
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// A hot base and non-transactional tables.
//
// mariabackup copies non-transactional tables (MyISAM, Aria...) while it
// holds commits back, and records the binlog position there. A
// transaction then open that changed both kinds of tables in statement
// format keeps its non-transactional statements in its transaction cache
// until its commit: the backup holds their changes (made when they ran),
// while the binlog logs them, with the transaction, after the recorded
// position. Applied from that position, they would be made twice: a
// duplicate key, or in silence an increment counted twice (seen with
// mariabackup 10.11: a transaction's UPDATE of a MyISAM counter, held open
// while the backup ran, is in the prepared base and after its position).
// `mariadb-binlog | mariadb` does the same. Neither the binlog nor the
// base tells whether such a transaction's changes were copied, so the
// replay refuses the first one that began before the backup ended.
// In row format the server logs non-transactional changes at once, as
// their own group, so only statement-format (and MIXED) transactions are
// at risk, and only those that also commit transactionally (XID) or that
// the source rolled back.

// HotBaseError refuses a transaction whose non-transactional changes the
// hot base backup the replay starts from may already hold (see above):
// nothing of it was applied, every transaction before it was.
type HotBaseError struct {
	Txn *txn.Ref
	// Began is the time of its first statement; Ended the backup's end.
	Began, Ended time.Time
}

// Error says what to check and how to go on.
func (e *HotBaseError) Error() string {
	return fmt.Sprintf("the transaction #%d at %s (GTID %s) changed non-transactional tables inside a transaction that began at %s, "+
		"before the base backup ended (%s): mariabackup copies such tables while it holds commits back, so the base may already "+
		"hold those changes while the binlog logs them after the backup's position, and applying them would make them twice "+
		"(an increment counted twice, a row inserted twice). Nothing of it was applied; every transaction before it was. "+
		"Compare the non-transactional tables it changes (binlog-replay plan shows its statements) in the restored base with the "+
		"source's binlog: if the base does not hold its changes, run again with --resume --hot-base-checked; if it does, "+
		"take them out of the base first (or restore from a backup taken while no such transaction was open)",
		e.Txn.Seq, e.Txn.Start, gtidOrNone(e.Txn.GTID), e.Began.UTC().Format(time.DateTime+" UTC"), e.Ended.UTC().Format(time.DateTime+" UTC"))
}

// HotBase returns the refusal of t when it may have changed
// non-transactional tables that the hot base backup ending at ended
// holds (see above), nil otherwise.
func HotBase(t *txn.Txn, ended time.Time) *HotBaseError {
	if ended.IsZero() || !t.NonTransactional || !(t.XID || t.RolledBack) {
		return nil
	}
	var began uint32
	for i := range t.Events {
		if ts := t.Events[i].Timestamp; ts > 0 && (began == 0 || ts < began) {
			began = ts
		}
	}
	// Timestamps are whole seconds: one in the backup's last second is
	// before its end.
	if began == 0 || int64(began) > ended.Unix() {
		return nil
	}
	return &HotBaseError{Txn: t.Ref(), Began: time.Unix(int64(began), 0), Ended: ended}
}

func gtidOrNone(g string) string {
	if g == "" {
		return "none"
	}
	return g
}
