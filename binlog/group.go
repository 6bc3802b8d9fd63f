package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Grouping states of a transaction being assembled.
const (
	// stGTID: a MySQL GTID was read; next comes BEGIN (a group), a single
	// statement, or a TRANSACTION_PAYLOAD.
	stGTID = iota + 1
	// stSingle: a MariaDB standalone GTID was read; next comes one
	// statement, possibly after INTVAR/RAND/USER_VAR events.
	stSingle
	// stContext: INTVAR/RAND/USER_VAR events outside BEGIN; next comes the
	// statement they belong to (old binlogs without GTIDs).
	stContext
	// stGroup: inside BEGIN (or a MariaDB GTID group) until XID or COMMIT.
	stGroup
)

// builder is a transaction being assembled.
type builder struct {
	t         *txn.Txn
	jobs      []rowsJob // row images to decode
	state     int
	statement bool // holds statement-format content
	nonTrans  bool // the binlog says it changed non-transactional tables
	// transactional: a MariaDB GTID says it changed transactional tables
	// only, and holds no DDL.
	transactional bool
	context       bool // holds INTVAR/RAND/USER_VAR events
	// rowBytes counts the row event bytes so far; undecoded is set once
	// they exceed Options.DecodeMaxBytes, or from the start when
	// Options.SkipDecode says so.
	rowBytes  int64
	undecoded bool
	// stream is what a transaction handed out in pieces keeps between
	// them (stream.go).
	stream streamState
	// loads are the files of LOAD DATA statements being read, by file id
	// (load.go).
	loads map[uint32][]byte
}

// dispatch feeds one event to the grouping state machine and returns the
// transaction it completes, if any.
func (r *Reader) dispatch(e readyEvent) (*pendingTxn, error) {
	if e.Type >= event.TypeAnnotateRows && e.Type <= event.TypeLastMariaDB {
		r.markMariaDB()
	}
	switch e.Type {
	case event.TypePreviousGTIDs, event.TypeMariaGTIDList:
		if err := r.outsideTxn(e); err != nil {
			return nil, err
		}
		return nil, r.in.cont.list(e.Type, e.body)
	case event.TypeRotate:
		r.in.cont.rotate(e.body, e.Flags, r.parse.format.PostHeaderLen(event.TypeRotate), e.pos)
		return nil, r.outsideTxn(e)
	case event.TypeBinlogCheckpoint, event.TypeStop, event.TypeFormatDescription:
		return nil, r.outsideTxn(e)
	case event.TypeHeartbeat, event.TypeHeartbeatV2, event.TypeIgnorable, event.TypeRowsQuery, event.TypeAnnotateRows:
		return nil, nil // informational
	case event.TypeGTID, event.TypeAnonymousGTID, event.TypeGTIDTagged:
		return nil, r.mysqlGTIDEvent(e)
	case event.TypeMariaGTID:
		return nil, r.mariaGTIDEvent(e)
	case event.TypeQuery, event.TypeQueryCompressed, event.TypeExecuteLoadQuery:
		return r.queryEvent(e)
	case event.TypeBeginLoadQuery, event.TypeAppendBlock, event.TypeDeleteFile:
		return nil, r.loadBlock(e)
	case event.TypeXID:
		return r.commitEvent(e)
	case event.TypeIntVar, event.TypeRand, event.TypeUserVar:
		return nil, r.contextEvent(e)
	case event.TypeTableMap:
		return nil, r.tableMapEvent(e)
	case event.TypeTransactionPayload:
		return r.payloadEvent(e)
	case event.TypeIncident:
		return nil, incidentError(e.body)
	case event.TypeStartEncryption:
		if r.in.remote != nil {
			return nil, nil // the source decrypts what it sends
		}
		return nil, errors.New("the binlog file is encrypted (encrypt_binlog), which binlog-replay cannot read: " +
			"read the binlogs from the server that wrote them with --source, which sends them decrypted")
	case event.TypeXAPrepare:
		return nil, errors.New("XA transactions are not supported")
	}
	if isRowsEvent(e.Type) {
		return nil, r.rowsEvent(e)
	}
	if e.Flags&event.FlagIgnorable != 0 || r.opts.SkipUnknown {
		r.stats.Skipped[event.TypeName(e.Type)]++
		return nil, nil
	}
	return nil, errors.New("event type not supported (Options.SkipUnknown skips it)")
}

// outsideTxn accepts an event that may only come between transactions.
func (r *Reader) outsideTxn(e readyEvent) error {
	if r.group.cur != nil || e.inPayload {
		return r.inTxnError(e)
	}
	if e.Type == event.TypeFormatDescription {
		return errors.New("a second FORMAT_DESCRIPTION_EVENT in one file (relay log?) is not supported")
	}
	return nil
}

// inTxnError reports an event that cannot be part of the current transaction.
func (r *Reader) inTxnError(e readyEvent) error {
	if r.group.cur == nil {
		return fmt.Errorf("unexpected %s outside a transaction", event.TypeName(e.Type))
	}
	return fmt.Errorf("unexpected %s inside the transaction starting at %s", event.TypeName(e.Type), r.group.cur.t.Start)
}

// begin starts assembling a transaction at e.
func (r *Reader) begin(e readyEvent, g txn.GTID, state int) {
	r.in.cont.txnStart(g, r.group.skipping)
	r.group.cur = &builder{state: state, t: &txn.Txn{
		GTID:     g,
		Start:    txn.Position{File: r.in.fr.Name(), Offset: e.pos},
		ServerID: e.ServerID,
		Format:   r.parse.format.Format,
		Events:   make([]txn.Event, 0, min(max(r.group.hint.events, 1), 64)),
	}}
	r.group.cur.t.ServerRestarted, r.group.restarted = r.group.restarted, false
	r.group.cur.undecoded = r.opts.SkipDecode != nil && r.opts.SkipDecode.Load()
	if r.opts.DecodeRows && !r.group.cur.undecoded && r.group.hint.jobs > 0 {
		r.group.cur.jobs = make([]rowsJob, 0, min(r.group.hint.jobs, 64))
	}
}

// add appends a decoded event to the current transaction.
func (r *Reader) add(e readyEvent, kind txn.EventKind) *txn.Event {
	r.group.cur.t.Events = append(r.group.cur.t.Events, txn.Event{
		Kind:      kind,
		Type:      e.Type,
		TypeName:  event.TypeName(e.Type),
		Pos:       txn.Position{File: r.in.fr.Name(), Offset: e.pos},
		Timestamp: e.Timestamp,
		Raw:       e.raw,
		InPayload: e.inner,
	})
	return &r.group.cur.t.Events[len(r.group.cur.t.Events)-1]
}

// finish completes the current transaction with e as its last event.
func (r *Reader) finish(e readyEvent, kind txn.Kind) *pendingTxn {
	t := r.group.cur.t
	t.Kind = kind
	t.End = txn.Position{File: r.in.fr.Name(), Offset: e.end}
	t.Time = time.Unix(int64(e.Timestamp), 0).UTC()
	t.Bytes = int64(t.End.Offset - t.Start.Offset)
	t.NonTransactional = r.group.cur.nonTrans
	r.group.cur.finishStream(t)
	p := &pendingTxn{t: t, jobs: r.group.cur.jobs}
	r.group.cur = nil
	clear(r.group.tables)
	return p
}

// mysqlGTIDEvent starts a transaction at a MySQL GTID or ANONYMOUS_GTID.
func (r *Reader) mysqlGTIDEvent(e readyEvent) error {
	if r.group.cur != nil || e.inPayload {
		return r.inTxnError(e)
	}
	ev, err := event.Parse(e.parser.events, e.data)
	if err != nil {
		return err
	}
	var g txn.GTID
	switch x := ev.Event.(type) {
	case *replication.GTIDEvent:
		if e.Type == event.TypeGTID {
			g, err = event.MySQLGTID(x.SID, "", x.GNO)
		}
	case *replication.GtidTaggedLogEvent:
		g, err = event.MySQLGTID(x.SID, x.Tag, x.GNO)
	default:
		err = fmt.Errorf("decode GTID: unexpected %T", ev.Event)
	}
	if err != nil {
		return err
	}
	r.begin(e, g, stGTID)
	return nil
}

// mariaGTIDEvent starts a transaction at a MariaDB GTID event.
func (r *Reader) mariaGTIDEvent(e readyEvent) error {
	if r.group.cur != nil || e.inPayload {
		return r.inTxnError(e)
	}
	g, err := event.ParseMariaGTID(e.body, e.ServerID)
	if err != nil {
		return err
	}
	state := stGroup
	if g.Standalone {
		state = stSingle
	}
	r.begin(e, g.GTID, state)
	// The server flags a group that changed only transactional tables
	// (and DDL apart); a group without either flag changed others.
	r.group.cur.nonTrans = !g.Standalone && !g.Transactional && !g.DDL
	r.group.cur.transactional = !g.Standalone && g.Transactional && !g.DDL
	return nil
}

// markMariaDB records that the file is MariaDB's, as its MariaDB-only events
// show, even if its server version string does not say so.
func (r *Reader) markMariaDB() {
	if r.parse.format.Flavor == txn.FlavorMariaDB {
		return
	}
	f := *r.parse.format.Format
	f.Flavor = txn.FlavorMariaDB
	r.parse.format.Format = &f
	if r.group.cur != nil {
		r.group.cur.t.Format = &f
	}
	clear(r.group.tableCache) // decoded with the other flavor
}

// Statement classes that matter for grouping.
const (
	sqlOther = iota
	sqlBegin
	sqlCommit
	sqlRollback
	sqlXA
)

// classify tells BEGIN, COMMIT, ROLLBACK and XA statements from others.
func classify(sql []byte) int {
	s := bytes.TrimSpace(sql)
	switch {
	case bytes.EqualFold(s, []byte("BEGIN")):
		return sqlBegin
	case bytes.EqualFold(s, []byte("COMMIT")):
		return sqlCommit
	case bytes.EqualFold(s, []byte("ROLLBACK")):
		return sqlRollback
	case len(s) > 3 && bytes.EqualFold(s[:3], []byte("XA ")):
		return sqlXA
	}
	return sqlOther
}

// queryEvent groups a QUERY event: BEGIN, COMMIT, or a statement.
func (r *Reader) queryEvent(e readyEvent) (*pendingTxn, error) {
	ph := r.parse.format.PostHeaderLen(e.Type)
	if ph < 0 {
		ph = r.parse.format.PostHeaderLen(event.TypeQuery)
	}
	q, err := event.ParseQuery(e.body, ph, e.Type == event.TypeQueryCompressed)
	if err != nil {
		return nil, err
	}
	if e.Type == event.TypeExecuteLoadQuery {
		if q.Load, err = r.loadOf(e.body, q); err != nil {
			return nil, err
		}
	}
	q.SuppressUse = e.Flags&event.FlagSuppressUse != 0
	q.ThreadSpecific = e.Flags&event.FlagThreadSpecific != 0
	switch classify(q.SQL) {
	case sqlXA:
		return nil, fmt.Errorf("XA transactions are not supported (%.40q)", q.SQL)
	case sqlRollback:
		// The source rolled back a transaction that had changed
		// non-transactional tables: it is logged so that those changes
		// are made again, and applied the same way.
		if r.group.cur == nil || r.group.cur.state != stGroup {
			return nil, r.inTxnError(e)
		}
		r.group.cur.nonTrans = true
		p := r.finish(e, r.groupKind())
		p.t.RolledBack = true
		return p, nil
	case sqlBegin:
		return nil, r.beginQuery(e, q)
	case sqlCommit:
		if r.group.cur == nil || r.group.cur.state != stGroup {
			return nil, r.inTxnError(e)
		}
		// A group of transactional tables only ends with an XID event.
		r.group.cur.nonTrans = true
		return r.finish(e, r.groupKind()), nil
	}
	if r.group.cur == nil {
		r.begin(e, txn.GTID{}, stSingle)
	}
	r.add(e, txn.EventQuery).Query = q
	if r.group.cur.state == stGroup {
		r.group.cur.statement = true
		return nil, nil
	}
	// A statement on its own: DDL or an auto-committed statement.
	if r.group.cur.context {
		return r.finish(e, txn.KindStatement), nil
	}
	r.group.cur.t.Begin = q
	return r.finish(e, txn.KindDDL), nil
}

// beginQuery handles a BEGIN query: it opens a group, after a GTID or alone.
func (r *Reader) beginQuery(e readyEvent, q *txn.Query) error {
	if r.group.cur == nil {
		r.begin(e, txn.GTID{}, stGroup)
		r.group.cur.t.Begin = q
		return nil
	}
	c := r.group.cur
	if (c.state == stGTID || c.state == stGroup) && c.t.Begin == nil && len(c.t.Events) == 0 {
		c.state = stGroup
		c.t.Begin = q
		return nil
	}
	return r.inTxnError(e)
}

// groupKind is the kind of the current group at its commit.
func (r *Reader) groupKind() txn.Kind {
	if r.group.cur.statement {
		return txn.KindStatement
	}
	return txn.KindRows
}

// commitEvent ends a group at its XID event.
func (r *Reader) commitEvent(e readyEvent) (*pendingTxn, error) {
	if r.group.cur == nil || r.group.cur.state != stGroup {
		return nil, r.inTxnError(e)
	}
	p := r.finish(e, r.groupKind())
	p.t.XID = true
	return p, nil
}

// contextEvent adds an INTVAR, RAND or USER_VAR event, which belongs to the
// next statement.
func (r *Reader) contextEvent(e readyEvent) error {
	var ev *txn.Event
	if r.group.cur == nil {
		r.begin(e, txn.GTID{}, stContext)
	}
	switch e.Type {
	case event.TypeIntVar:
		v, err := event.ParseIntVar(e.body)
		if err != nil {
			return err
		}
		ev = r.add(e, txn.EventIntVar)
		ev.IntVar = v
	case event.TypeRand:
		v, err := event.ParseRand(e.body)
		if err != nil {
			return err
		}
		ev = r.add(e, txn.EventRand)
		ev.Rand = v
	default:
		v, err := event.ParseUserVar(e.body)
		if err != nil {
			return err
		}
		ev = r.add(e, txn.EventUserVar)
		ev.UserVar = v
	}
	r.group.cur.context = true
	r.group.cur.statement = true
	return nil
}

// tableMapEvent adds a TABLE_MAP event to the current group.
func (r *Reader) tableMapEvent(e readyEvent) error {
	if r.group.cur == nil || r.group.cur.state != stGroup {
		return r.inTxnError(e)
	}
	te, err := r.tableMap(e)
	if err != nil {
		return err
	}
	r.group.tables[te.tm.ID] = te
	ev := r.add(e, txn.EventTableMap)
	ev.TableMap = te.tm
	r.group.cur.noteEvent(ev)
	return nil
}

// rowsEvent adds a row event to the current group and, with
// Options.DecodeRows, a job to decode its images.
func (r *Reader) rowsEvent(e readyEvent) error {
	if r.group.cur == nil || r.group.cur.state != stGroup {
		return r.inTxnError(e)
	}
	op, ok := rowsOp(e.Type)
	if !ok {
		return errors.New("MariaDB compressed row events in the v2 layout are not supported")
	}
	id, err := r.tableID(e)
	if err != nil {
		return err
	}
	te, ok := r.group.tables[id]
	if !ok {
		return fmt.Errorf("row event for table id %d has no TABLE_MAP before it in its statement", id)
	}
	h, err := event.CheckRowsHeader(e.Type, e.body, r.tableIDLen(e.Type), te.tm)
	if err != nil {
		return err
	}
	rows := newRows(op, h, te)
	ev := r.add(e, txn.EventRows)
	ev.Rows = rows
	r.group.cur.noteEvent(ev)
	if _, compressed := event.UncompressedType(e.Type); compressed && e.raw != nil && !r.group.skipping {
		if ev.Raw, err = event.ExpandCompressedRows(e.raw, e.body, h, r.parse.format.Checksum); err != nil {
			return err
		}
	}
	forced := r.opts.DecodeJSON && r.statementHasJSON() ||
		r.opts.DecodeSequences && te.tm.SequenceShaped() && partialImage(rows)
	if h.Flags&txn.RowsFlagStmtEnd != 0 {
		clear(r.group.tables) // table maps are scoped to their statement, as the server applies them
	}
	if r.group.skipping {
		return nil
	}
	if !forced {
		if !r.opts.DecodeRows || r.group.cur.undecoded {
			return nil
		}
		if r.group.cur.rowBytes += int64(len(e.body)); r.opts.DecodeMaxBytes > 0 && r.group.cur.rowBytes > r.opts.DecodeMaxBytes {
			r.group.cur.undecoded = true // too large: left undecoded, but for the forced jobs
			r.group.cur.jobs = slices.DeleteFunc(r.group.cur.jobs, func(j rowsJob) bool { return !j.forced })
			return nil
		}
	}
	tmpl, err := r.rowsTemplate(e, te)
	if err != nil {
		return err
	}
	r.group.cur.jobs = append(r.group.cur.jobs, rowsJob{rows: rows, tmpl: tmpl, table: te.tme, head: h, body: e.body,
		pos: e.pos, typ: e.Type, inner: e.inner, forced: forced})
	return nil
}

// partialImage reports whether a row event's images lack columns.
func partialImage(rows *txn.Rows) bool {
	return slices.Contains(rows.Columns, false) || slices.Contains(rows.ColumnsAfter, false)
}

// statementHasJSON reports whether a table map of the current statement
// has a MySQL JSON column (Options.DecodeJSON): every table map of a
// statement comes before its row events.
func (r *Reader) statementHasJSON() bool {
	for _, te := range r.group.tables {
		if te.tm.HasJSON() {
			return true
		}
	}
	return false
}

// payloadEvent expands a MySQL 8 TRANSACTION_PAYLOAD: the compressed
// transaction after a GTID event.
func (r *Reader) payloadEvent(e readyEvent) (*pendingTxn, error) {
	if r.group.cur == nil || r.group.cur.state != stGTID || e.inPayload {
		return nil, r.inTxnError(e)
	}
	if err := event.CheckPayload(e.body); err != nil {
		return nil, err
	}
	ev, err := event.Parse(e.parser.events, e.data)
	if err != nil {
		return nil, err
	}
	pe, ok := ev.Event.(*replication.TransactionPayloadEvent)
	if !ok {
		return nil, fmt.Errorf("decode transaction payload: unexpected %T", ev.Event)
	}
	for i, in := range pe.Events {
		h := event.ParseHeader(in.RawData)
		ie := readyEvent{Header: h, pos: e.pos, end: e.end, data: in.RawData,
			body: in.RawData[event.HeaderSize:len(in.RawData):len(in.RawData)], parser: r.parse.inner, inPayload: true, inner: i + 1}
		if !r.group.skipping {
			if ie.raw, err = event.Standalone(in.RawData, r.parse.format.Checksum); err != nil {
				return nil, fmt.Errorf("event %d (%s) inside the transaction payload: %w", i+1, event.TypeName(h.Type), err)
			}
		}
		t, err := r.dispatch(ie)
		if err != nil {
			return nil, fmt.Errorf("event %d (%s) inside the transaction payload: %w", i+1, event.TypeName(h.Type), err)
		}
		if t != nil {
			if i != len(pe.Events)-1 {
				return nil, fmt.Errorf("transaction payload has events after its commit (event %d of %d)", i+2, len(pe.Events))
			}
			return t, nil
		}
	}
	return nil, errors.New("transaction payload does not hold a whole transaction")
}

// incidentError describes an INCIDENT event: the source lost events there.
func incidentError(body []byte) error {
	msg := ""
	if len(body) >= 3 && len(body) >= 3+int(body[2]) {
		msg = string(body[3 : 3+int(body[2])])
	}
	code := 0
	if len(body) >= 2 {
		code = int(binary.LittleEndian.Uint16(body))
	}
	return fmt.Errorf("INCIDENT event (code %d, %q): the source could not log some changes here; the binlog is incomplete", code, msg)
}
