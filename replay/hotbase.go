package replay

import "github.com/binlog-replay/binlog-replay/internal/startcheck"

// HotBaseError refuses a transaction whose non-transactional changes the
// hot base backup the replay starts from (--from-backup) may already
// hold: one that changed non-transactional tables inside a transaction
// begun by the backup's end (Selection.HotBaseEnded). Nothing of it was
// applied, every transaction before it was; Selection.HotBaseChecked
// applies it.
type HotBaseError = startcheck.HotBaseError
