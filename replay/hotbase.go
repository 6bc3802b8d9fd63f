package replay

import "github.com/binlog-replay/binlog-replay/internal/startcheck"

// HotBaseError refuses a transaction whose non-transactional changes the
// base the replay starts from (--from-backup, Selection.HotBase) may
// already hold: one that changed non-transactional tables (inside a
// transaction, from a mariabackup backup) and began by the time the copy
// ended. Nothing of it was applied, every transaction before it was;
// HotBase.Checked applies it.
type HotBaseError = startcheck.HotBaseError
