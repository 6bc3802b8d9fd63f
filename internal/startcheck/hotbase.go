package startcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// A hot base and non-transactional tables.
//
// A base copied while the source was written is consistent with its
// binlog position for InnoDB, not always for non-transactional tables
// (MyISAM, Aria, MEMORY), which have no snapshot:
//
//   - mariabackup copies them while it holds commits back, and records
//     the position there. A statement-format transaction then open that
//     changed both kinds of tables keeps its non-transactional statements
//     in its transaction cache until its commit: the backup holds their
//     changes (made when they ran) while the binlog logs them, with the
//     transaction, after the position (seen with mariabackup 10.11: a
//     MyISAM counter's increment, held open over the backup, counted twice
//     by a replay from the position, exit 0). In row format the server
//     logs a non-transactional change at once, as its own group, so only
//     a transaction that also commits transactionally (XID) or that the
//     source rolled back is at risk.
//   - mariadb-dump (mysqldump) --single-transaction reads InnoDB tables in
//     a snapshot at its position, but a non-transactional table as it is
//     when the dump reaches it: every change made to one between the
//     position and then is in the dump and after the position (seen with
//     mariadb-dump 10.11: a MyISAM row's update made while the dump waited
//     on another table). Any transaction that changed non-transactional
//     tables is at risk. A dump under --lock-all-tables (--master-data
//     without --single-transaction) lets no write through until it ends.
//
// Applied from the position, such changes are made twice: a duplicate
// key, or in silence an increment counted twice (`mariadb-binlog |
// mariadb` does the same). Neither the binlog nor the base says whether a
// given change was copied, so the replay refuses the first transaction at
// risk whose first statement ran by the time the copy ended.

// HotBase is what the replay knows of a base copied while the source was
// written (see above).
type HotBase struct {
	// Ended is when the copy ended (zero: unknown, nothing is checked).
	Ended time.Time
	// Dump is set for a logical dump (mariadb-dump, mysqldump), clear for
	// a physical backup (mariabackup, xtrabackup).
	Dump bool
	// Checked is the operator's word that the base holds none of those
	// changes (--hot-base-checked): nothing is refused, nor its end
	// checked.
	Checked bool
}

// HotBaseError refuses a transaction whose non-transactional changes the
// base the replay starts from may already hold (see above): nothing of it
// was applied, every transaction before it was.
type HotBaseError struct {
	Txn *txn.Ref
	// Began is the time of its first statement.
	Began time.Time
	Base  HotBase
}

// Error says what to check and how to go on.
func (e *HotBaseError) Error() string {
	what, how := "changed non-transactional tables inside a transaction", "mariabackup copies such tables while it holds commits back"
	if e.Base.Dump {
		what, how = "changed non-transactional tables", "a dump made with --single-transaction copies such a table when it reaches it, not at its position"
	}
	gtid := e.Txn.GTID
	if gtid == "" {
		gtid = "none"
	}
	return fmt.Sprintf("the transaction #%d at %s (GTID %s) %s that began at %s, before the base backup ended (%s): %s, "+
		"so the base may already hold those changes while the binlog logs them after the backup's position, and applying them "+
		"would make them twice (an increment counted twice, a row inserted twice). Nothing of it was applied; every transaction "+
		"before it was. Compare the non-transactional tables it changes (binlog-replay plan shows its statements) in the "+
		"restored base with the source's binlog: if the base does not hold its changes, run again with --resume "+
		"--hot-base-checked; if it does, take them out of the base first (or restore from a base taken while no such "+
		"table was written)",
		e.Txn.Seq, e.Txn.Start, gtid, what, e.Began.UTC().Format(time.DateTime+" UTC"), e.Base.Ended.UTC().Format(time.DateTime+" UTC"), how)
}

// Risk returns the refusal of t when the base may hold some of its
// non-transactional changes (see above), nil otherwise.
func (b HotBase) Risk(t *txn.Txn) *HotBaseError {
	if b.Checked || b.Ended.IsZero() || !t.NonTransactional || !b.Dump && !t.XID && !t.RolledBack {
		return nil
	}
	var began uint32
	for i := range t.Events {
		if ts := t.Events[i].Timestamp; ts > 0 && (began == 0 || ts < began) {
			began = ts
		}
	}
	// Timestamps are whole seconds: one in the copy's last second is
	// before its end.
	if began == 0 || int64(began) > b.Ended.Unix() {
		return nil
	}
	return &HotBaseError{Txn: t.Ref(), Began: time.Unix(int64(began), 0), Base: b}
}

// ClockBehind returns why b's end cannot be right: the last transaction
// before start in its file (which the base holds) committed more than a
// minute after it. The end is read in this host's time zone, the backup
// tool wrote it in its own: a host east of the backup's reads it too
// early, and transactions at risk would pass unchecked. "" when the end
// is unknown or Checked, or no transaction comes before start in its file.
func (b HotBase) ClockBehind(ctx context.Context, open Opener, start txn.Position) (string, error) {
	if b.Checked || b.Ended.IsZero() || start.File == "" {
		return "", nil
	}
	var last *txn.Txn
	if _, err := Before(ctx, open, start, func(t *txn.Txn) bool {
		last = t
		return true
	}); err != nil {
		return "", fmt.Errorf("read %s before the start: %w", start.File, err)
	}
	if last == nil || last.Time.Unix() <= b.Ended.Unix()+60 {
		return "", nil
	}
	zone, _ := time.Now().Zone()
	return fmt.Sprintf("the base's copy ended at %s as read in this host's time zone (%s), but the transaction #%d at %s, which it "+
		"holds, committed at %s, later: the backup tool wrote its end in the time zone of the host that made it. Run the replay "+
		"with that zone (TZ=...), so that the transactions whose non-transactional changes the base may hold are found; "+
		"--hot-base-checked skips the check. Nothing was applied",
		b.Ended.Format(time.DateTime), zone, last.Seq, last.Start, last.Time.UTC().Format(time.DateTime+" UTC")), nil
}
