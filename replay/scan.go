package replay

import (
	"context"
	"errors"
	"io"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/txn"
)

// scanPiece is the piece size of the reads ahead of the replay (the stop,
// start and rewrite checks), which hold no more of a huge transaction
// than that.
const scanPiece = 1 << 20

// scanOptions are the reader options of a read ahead of the replay from
// start: row images not decoded, huge transactions in pieces.
func (o Options) scanOptions(start txn.Position) binlog.Options {
	return binlog.Options{Start: start, SkipUnknown: o.Recovery.SkipUnknown,
		NoContinuityCheck: o.Recovery.NoContinuityCheck, StreamAbove: scanPiece, ReadAheadBytes: scanPiece}
}

// scan hands rd's transactions (or pieces) to each, in order, until each
// returns false or an error, or the binlogs end. A binlog truncated at its
// end ends the scan as its end does: the replay itself reads up to there
// and says so.
func scan(ctx context.Context, rd *binlog.Reader, each func(t *txn.Txn) (more bool, err error)) error {
	for {
		t, err := rd.Next(ctx)
		var trunc *binlog.TruncatedError
		if errors.Is(err, io.EOF) || errors.As(err, &trunc) {
			return nil
		}
		if err != nil {
			return err
		}
		if more, err := each(t); err != nil || !more {
			return err
		}
	}
}
