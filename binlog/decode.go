package binlog

import (
	"errors"
	"fmt"
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/mysqljson"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Row images are decoded apart from the grouping: the grouping stage (in the
// goroutine calling Next) frames the events, checks them and assembles
// transactions, leaving for each row event a rowsJob; decode workers then
// decode the jobs of whole transactions, while Next keeps reading ahead. A
// table map is scoped to its statement, and each job carries the table map
// it needs, so transactions decode independently. Next returns them from a
// queue in binlog order, each once its done channel is closed. An error met
// while grouping a transaction comes after the decoding errors of its
// earlier row events (Reader.earlierError), as reading one event at a time.
//
// Example with 2 workers: Next groups T1, T2, T3 and hands them to the
// workers; worker A decodes T1, worker B T2. B finishes first: T2 waits in
// the queue. Next groups T4 while it waits for T1, returns T1 once A closes
// its done channel, then T2 at once. If T3 fails to decode, Next returns
// T1 and T2, then T3's error, and drops T4.

// Read-ahead limits with decode workers: transactions per worker (up to
// maxQueued in all) and binlog bytes queued (Options.ReadAheadBytes,
// default defaultReadAhead). A transaction larger than that is read when
// the queue is empty.
const (
	queuedPerWorker  = 128
	maxQueued        = 1024
	defaultReadAhead = 64 << 20
)

// errStopped ends decoding when the reader is closed; no caller sees it.
var errStopped = errors.New("binlog reader closed while decoding")

// pendingTxn is a transaction the grouping stage completed, with the row
// images it still has to decode.
type pendingTxn struct {
	t    *txn.Txn
	jobs []rowsJob
	// err is the decoding error, set before done is closed.
	err error
	// done is closed once the jobs are decoded; nil when there is nothing
	// left to wait for (no jobs, or decoded inline).
	done chan struct{}
}

// decoded reports whether p's jobs are decoded, without blocking.
func (p *pendingTxn) decoded() bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// rowsJob is a row event whose images are still to be decoded.
type rowsJob struct {
	rows  *txn.Rows                  // the event's Rows: header filled, images to come
	tmpl  *replication.RowsEvent     // set up for the event's type (Reader.rowsTemplate); read-only
	table *replication.TableMapEvent // the event's table map; read-only
	head  event.RowsHead
	body  []byte // event body without header and checksum
	// Where the event is, for errors: offset (of the payload event for an
	// event inside a TRANSACTION_PAYLOAD), type, and index (from 1) inside
	// the payload or 0. The file is the transaction's.
	pos   uint64
	typ   byte
	inner int
	// forced is set for a job decoded for Options.DecodeJSON only.
	forced bool
}

// decodeJobs decodes the jobs of a transaction in file, in order, and
// returns the first error, an *event.Error naming the event. It returns errStopped
// if quit is closed first. re is scratch space.
func decodeJobs(file string, jobs []rowsJob, quit <-chan struct{}, re *replication.RowsEvent) error {
	for i := range jobs {
		select {
		case <-quit: // a nil quit never fires
			return errStopped
		default:
		}
		if err := jobs[i].decode(re); err != nil {
			var e *event.Error
			if errors.As(err, &e) {
				e.File = file
			}
			return err
		}
	}
	return nil
}

// decode decodes j's row images into j.rows, using re as scratch space.
func (j *rowsJob) decode(re *replication.RowsEvent) error {
	*re = *j.tmpl // go-mysql's private decoding settings
	re.Table, re.TableID = j.table, j.table.TableID
	re.Flags, re.ColumnCount = j.head.Flags, uint64(j.head.Columns)
	re.ColumnBitmap1, re.ColumnBitmap2 = j.head.Bitmap1, j.head.Bitmap2
	tm := j.rows.Table
	if err := mysqljson.CheckRows(j.table, j.head, j.body, j.typ); err != nil {
		return j.errorf("table `%s`.`%s`: %w", tm.Schema, tm.Table, err)
	}
	if err := event.DecodeRowsData(re, j.head.Data, j.body); err != nil {
		return j.errorf("table `%s`.`%s`: %w", tm.Schema, tm.Table, err)
	}
	if j.typ == event.TypePartialUpdateRows {
		if err := mysqljson.PartialDiffs(re, j.head, j.body); err != nil {
			return j.errorf("table `%s`.`%s`: %w", tm.Schema, tm.Table, err)
		}
	}
	if err := convertImages(re.Rows, j.rows, j.body); err != nil {
		return j.errorf("%w", err)
	}
	return nil
}

// errorf returns an *event.Error naming j's event, as the grouping stage names
// the events it refuses.
func (j *rowsJob) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	typ := j.typ
	if j.inner > 0 {
		err = fmt.Errorf("event %d (%s) inside the transaction payload: %w", j.inner, event.TypeName(typ), err)
		typ = event.TypeTransactionPayload
	}
	return &event.Error{Offset: j.pos, EventType: event.TypeName(typ), Err: err}
}

// decoders is a pool of goroutines decoding the jobs of pending
// transactions.
type decoders struct {
	jobs chan *pendingTxn
	quit chan struct{}
	wg   sync.WaitGroup
}

// startDecoders starts n decode workers; queue is how many transactions may
// wait for them.
func startDecoders(n, queue int) *decoders {
	d := &decoders{jobs: make(chan *pendingTxn, queue), quit: make(chan struct{})}
	d.wg.Add(n)
	for range n {
		go d.run()
	}
	return d
}

// run decodes transactions until the jobs channel is closed.
func (d *decoders) run() {
	defer d.wg.Done()
	var re replication.RowsEvent
	for p := range d.jobs {
		p.err = decodeJobs(p.t.Start.File, p.jobs, d.quit, &re)
		p.jobs = nil
		close(p.done)
	}
}

// stop makes the workers drop what is queued, and waits for them to return.
func (d *decoders) stop() {
	close(d.quit)
	close(d.jobs)
	d.wg.Wait()
}

// enqueue appends p to the read-ahead queue and hands its jobs, if any, to
// the decode workers, starting them on first use. The jobs channel holds as
// many transactions as the queue may, so this never blocks.
func (r *Reader) enqueue(p *pendingTxn) {
	if len(p.jobs) > 0 {
		if r.ahead.dec == nil {
			r.ahead.dec = startDecoders(r.ahead.workers, r.maxQueued())
		}
		p.done = make(chan struct{})
		r.ahead.dec.jobs <- p
	}
	r.ahead.queue = append(r.ahead.queue, p)
	r.ahead.queuedBytes += p.t.Bytes
}

// dequeue removes the first transaction of the queue and returns it.
func (r *Reader) dequeue() *pendingTxn {
	p := r.ahead.queue[0]
	r.ahead.queuedBytes -= p.t.Bytes
	r.ahead.queue[0] = nil
	r.ahead.queue = r.ahead.queue[1:]
	return p
}

// hasRoom reports whether the queue may take another transaction.
func (r *Reader) hasRoom() bool {
	return len(r.ahead.queue) < r.maxQueued() && r.ahead.queuedBytes < r.ahead.limit
}

// maxQueued is how many transactions the queue may hold.
func (r *Reader) maxQueued() int {
	return min(queuedPerWorker*r.ahead.workers, maxQueued)
}

// dropQueue forgets the transactions read ahead and stops the workers.
func (r *Reader) dropQueue() {
	r.ahead.queue, r.ahead.queuedBytes = nil, 0
	r.stopDecoders()
}

// stopDecoders stops the decode workers, if they run.
func (r *Reader) stopDecoders() {
	if r.ahead.dec != nil {
		r.ahead.dec.stop()
		r.ahead.dec = nil
	}
}
