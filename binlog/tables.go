package binlog

import (
	"bytes"
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// A server logs the same TABLE_MAP event, byte for byte, before every row
// event group on a table until the table's id changes, so the reader decodes
// each distinct one once per file and reuses it: decoding table maps was a
// third of the reading time on OLTP binlogs. The cache is per file, as the
// decoding depends on the file's format description.

// maxCachedTables bounds the table map cache of a file. When it is full,
// the cache and the parsers (which keep every table map they decoded) are
// renewed.
const maxCachedTables = 4096

// tableEntry is a decoded table map: the project's form, which transactions
// share (read-only), and go-mysql's, which decodes the row images.
type tableEntry struct {
	tm  *txn.TableMap
	tme *replication.TableMapEvent
	// allColumns is the column list of a full row image (every column
	// set), shared by the Rows of such images; nil until first needed.
	allColumns []bool
}

// columns expands a rows event's column bitmap; the list of a full image is
// shared.
func (te *tableEntry) columns(bitmap []byte, n int) []bool {
	if !allColumns(bitmap, n) {
		return bitmapBools(bitmap, n)
	}
	if te.allColumns == nil {
		te.allColumns = bitmapBools(bitmap, n)
	}
	return te.allColumns
}

// allColumns reports whether bitmap has its first n bits set.
func allColumns(bitmap []byte, n int) bool {
	if len(bitmap)*8 < n {
		return false
	}
	for i := 0; i < n; i++ {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			return false
		}
	}
	return true
}

// tableMap returns the decoded table map of the TABLE_MAP event e, from the
// cache when the file had an identical event before.
func (r *Reader) tableMap(e readyEvent) (*tableEntry, error) {
	if te, ok := r.group.tableCache[string(e.body)]; ok {
		return te, nil
	}
	if len(r.group.tableCache) >= maxCachedTables {
		if err := r.renewParsers(); err != nil {
			return nil, err
		}
	}
	r.parse.meta, r.parse.metaErr = event.OptMeta{}, nil
	// The decoded forms share the memory of the bytes they are decoded
	// from: a copy, so that the cache does not keep alive the memory of
	// the transaction the event came in (see logfile.File.NewSlab).
	ev, err := event.Parse(e.parser.events, bytes.Clone(e.data))
	if err == nil {
		err = r.parse.metaErr
	}
	if err != nil {
		return nil, err
	}
	tme, ok := ev.Event.(*replication.TableMapEvent)
	if !ok {
		return nil, fmt.Errorf("decode table map: unexpected %T", ev.Event)
	}
	tm, err := convertTableMap(tme, r.parse.meta, r.parse.format.Flavor)
	if err != nil {
		return nil, err
	}
	te := &tableEntry{tm: tm, tme: tme}
	r.group.tableCache[string(e.body)] = te
	return te, nil
}

// renewParsers empties the table map cache and replaces the file's parsers
// with new ones, which forget the table maps the old ones decoded.
func (r *Reader) renewParsers() error {
	clear(r.group.tableCache)
	return r.newParsers(r.parse.format.Raw)
}

// rowsTemplate returns a go-mysql rows event set up for events of e's type:
// go-mysql's parser gives the events it creates private decoding settings
// (version, bitmaps, compression, time formats), which decode workers copy
// (rowsJob.decode) instead of running the parser on every event.
func (r *Reader) rowsTemplate(e readyEvent, te *tableEntry) (*replication.RowsEvent, error) {
	ps := e.parser
	if re := ps.templates[e.Type]; re != nil {
		return re, nil
	}
	ev, err := event.Parse(ps.rows, e.data)
	if err != nil {
		return nil, fmt.Errorf("table `%s`.`%s`: %w", te.tm.Schema, te.tm.Table, err)
	}
	re, ok := ev.Event.(*replication.RowsEvent)
	if !ok {
		return nil, fmt.Errorf("decode rows: unexpected %T", ev.Event)
	}
	ps.templates[e.Type] = re
	return re, nil
}
