package event

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/binlog-replay/binlog-replay/txn"
)

// MariaDB GTID event flags (sql/log_event.h, Gtid_log_event).
const (
	mariaStandalone    = 1
	mariaGroupCommitID = 2
	mariaTransactional = 4
	mariaDDL           = 32
	mariaPreparedXA    = 64
	mariaCompletedXA   = 128

	// flags_extra
	mariaExtraMultiEngine   = 1
	mariaExtraStartAlter    = 2
	mariaExtraCommitAlter   = 4
	mariaExtraRollbackAlter = 8
)

// MariaGTID is a decoded MariaDB GTID event.
type MariaGTID struct {
	GTID       txn.GTID
	Standalone bool
	// Transactional is FL_TRANSACTIONAL: the server logs it for an event
	// group that changed only transactional tables. DDL is FL_DDL.
	Transactional, DDL bool
}

// ParseMariaGTID decodes a MariaDB GTID event body: sequence number (8),
// domain (4), flags (1), then optional commit id, XA xid and extra flags.
// XA transactions and two-phase ALTER are refused: replaying them needs
// semantics the binlog reader does not provide.
func ParseMariaGTID(body []byte, serverID uint32) (MariaGTID, error) {
	var g MariaGTID
	if len(body) < 13 {
		return g, fmt.Errorf("MariaDB GTID body of %d bytes is too short", len(body))
	}
	g.GTID = txn.GTID{
		Flavor: txn.FlavorMariaDB,
		Seq:    binary.LittleEndian.Uint64(body),
		Domain: binary.LittleEndian.Uint32(body[8:]),
		Server: serverID,
	}
	flags := body[12]
	g.Standalone = flags&mariaStandalone != 0
	g.Transactional = flags&mariaTransactional != 0
	g.DDL = flags&mariaDDL != 0
	if flags&(mariaPreparedXA|mariaCompletedXA) != 0 {
		return g, fmt.Errorf("GTID %s belongs to an XA transaction, which is not supported", g.GTID)
	}
	rest := body[13:]
	if flags&mariaGroupCommitID != 0 {
		if len(rest) < 8 {
			return g, fmt.Errorf("GTID %s: commit id missing", g.GTID)
		}
		rest = rest[8:]
	}
	// Without a commit id the body is padded with zeros; a zero extra-flags
	// byte reads the same as the padding.
	if len(rest) > 0 {
		extra := rest[0]
		if extra&(mariaExtraStartAlter|mariaExtraCommitAlter|mariaExtraRollbackAlter) != 0 {
			return g, fmt.Errorf("GTID %s is part of a two-phase ALTER (binlog_alter_two_phase), which is not supported", g.GTID)
		}
	}
	return g, nil
}

// MySQLGTID formats a MySQL GTID from its 16-byte source id, optional tag
// and number. An anonymous GTID (number 0) is the zero GTID.
func MySQLGTID(sid []byte, tag string, gno int64) (txn.GTID, error) {
	if gno == 0 {
		return txn.GTID{}, nil
	}
	if gno < 0 {
		return txn.GTID{}, fmt.Errorf("GTID number %d is negative", gno)
	}
	if len(sid) != 16 {
		return txn.GTID{}, fmt.Errorf("GTID source id of %d bytes (want 16)", len(sid))
	}
	h := hex.EncodeToString(sid)
	src := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if tag != "" {
		src += ":" + tag
	}
	return txn.GTID{Flavor: txn.FlavorMySQL, Source: src, Seq: uint64(gno)}, nil
}
