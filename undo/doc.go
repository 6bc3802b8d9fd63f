// Package undo reverses a range of binlog transactions on a target server:
// the accidental DELETE, the UPDATE without WHERE, the batch run twice. It
// applies the inverse of every row change of the range, the last first,
// through the replay's pipeline (internal/pipeline): parallel lanes where
// write sets allow, commits in order, a checkpoint in each commit (in its
// own channel, target.UndoChannel), --resume, the same error reporting.
//
// A run:
//
//	read the range   binlog files -> inverse statements (undo/inverse),
//	                 refusals (what cannot be undone), spooled to disk
//	                 (undo/inverse)
//	scan what follows  the binlogs after the range: later transactions
//	                 that wrote a row of the range (conflict.go)
//	apply            the spool read backward -> inverse transactions ->
//	                 checks of each row's current image (guard.go) ->
//	                 the pipeline -> the target
//
// Row events are passed through in BINLOG statements as the replay does,
// so every value keeps its exact type.
package undo
