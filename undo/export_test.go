package undo_test

import "github.com/binlog-replay/binlog-replay/internal/sqlgen"

// sqlgenErrRowDiffers is sqlgen.ErrRowDiffers, which the error of a row
// changed outside the binlogs wraps.
func sqlgenErrRowDiffers() error { return sqlgen.ErrRowDiffers }
