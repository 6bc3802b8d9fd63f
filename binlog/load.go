package binlog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// LOAD DATA INFILE, logged as a statement (STATEMENT and MIXED formats):
// the server logs the file's content in a BEGIN_LOAD_QUERY event and
// APPEND_BLOCK events, each naming a file id, then the statement in an
// EXECUTE_LOAD_QUERY event, a QUERY event with the file id and where the
// file's name is in its text. The reader gathers the content and hands it
// with the statement (txn.Query.Load); the content is held in memory.

// loadBlock takes a BEGIN_LOAD_QUERY or APPEND_BLOCK event's block of file
// content (file id, then the data), or a DELETE_FILE event (file id: the
// statement failed and is not logged).
func (r *Reader) loadBlock(e readyEvent) error {
	if r.group.cur == nil || r.group.cur.state != stGroup {
		return r.inTxnError(e)
	}
	if len(e.body) < 4 {
		return fmt.Errorf("%s body of %d bytes has no file id", event.TypeName(e.Type), len(e.body))
	}
	id := binary.LittleEndian.Uint32(e.body)
	if r.group.cur.loads == nil {
		r.group.cur.loads = map[uint32][]byte{}
	}
	switch e.Type {
	case event.TypeBeginLoadQuery:
		if _, ok := r.group.cur.loads[id]; ok {
			return fmt.Errorf("a second BEGIN_LOAD_QUERY_EVENT for file id %d", id)
		}
		r.group.cur.loads[id] = append([]byte(nil), e.body[4:]...)
	case event.TypeAppendBlock:
		data, ok := r.group.cur.loads[id]
		if !ok {
			return fmt.Errorf("APPEND_BLOCK_EVENT for file id %d, which no BEGIN_LOAD_QUERY_EVENT began", id)
		}
		r.group.cur.loads[id] = append(data, e.body[4:]...)
	default:
		delete(r.group.cur.loads, id)
	}
	return nil
}

// loadOf returns the file of an EXECUTE_LOAD_QUERY event (body), whose
// query q is parsed: after the query's 13-byte post-header come the file
// id (4), the start and end of the file name in the query (4 each) and the
// duplicate handling (1).
func (r *Reader) loadOf(body []byte, q *txn.Query) (*txn.LoadData, error) {
	const at = 13
	if len(body) < at+13 {
		return nil, errors.New("EXECUTE_LOAD_QUERY_EVENT body too short for its post-header")
	}
	id := binary.LittleEndian.Uint32(body[at:])
	start := int(binary.LittleEndian.Uint32(body[at+4:]))
	end := int(binary.LittleEndian.Uint32(body[at+8:]))
	dup := body[at+12]
	if start > end || end > len(q.SQL) || dup > txn.LoadDupReplace {
		return nil, fmt.Errorf("EXECUTE_LOAD_QUERY_EVENT: file name at %d-%d of a %d-byte query, duplicate handling %d", start, end, len(q.SQL), dup)
	}
	if r.group.cur == nil {
		return nil, errors.New("EXECUTE_LOAD_QUERY_EVENT outside a transaction")
	}
	data, ok := r.group.cur.loads[id]
	if !ok {
		return nil, fmt.Errorf("EXECUTE_LOAD_QUERY_EVENT for file id %d, which no BEGIN_LOAD_QUERY_EVENT began", id)
	}
	delete(r.group.cur.loads, id)
	return &txn.LoadData{Data: data, FileStart: start, FileEnd: end, Dup: dup}, nil
}
