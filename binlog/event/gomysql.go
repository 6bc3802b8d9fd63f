package event

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"
)

// go-mysql's decoders panic on some malformed input and quote whole event
// bodies in some of their errors: the binlog packages call them through
// Parse and DecodeRowsData.

// maxErrLen bounds the go-mysql error text quoted in an error.
const maxErrLen = 200

// Parse runs go-mysql's parser on one whole event, turning its panics and
// verbose errors into short errors.
func Parse(p *replication.BinlogParser, data []byte) (ev *replication.BinlogEvent, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			ev, err = nil, fmt.Errorf("decode event: malformed data (%v)", rec)
		}
	}()
	ev, err = p.Parse(data)
	var ee *replication.EventError
	if errors.As(err, &ee) {
		err = errors.New(ee.Err)
	}
	if err != nil {
		return nil, shortDecodeError(err)
	}
	return ev, nil
}

// shortDecodeError turns a go-mysql decoding error into "decode event: ...",
// cut short: go-mysql quotes whole event bodies in some messages.
func shortDecodeError(err error) error {
	msg := err.Error()
	if len(msg) > maxErrLen {
		msg = msg[:maxErrLen] + "..."
	}
	return fmt.Errorf("decode event: %s", msg)
}

// DecodeRowsData runs go-mysql's decoder of row images, turning its panics
// and verbose errors into short errors, as Parse does.
func DecodeRowsData(re *replication.RowsEvent, pos int, body []byte) (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("decode event: malformed data (%v)", rec)
		}
	}()
	if err := re.DecodeData(pos, body); err != nil {
		return shortDecodeError(err)
	}
	return nil
}
