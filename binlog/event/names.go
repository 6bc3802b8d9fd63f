package event

import "strconv"

// Event type codes the binlog packages handle by number (MySQL binlog_event.h and
// MariaDB log_event.h).
const (
	TypeQuery              = 2
	TypeStop               = 3
	TypeRotate             = 4
	TypeIntVar             = 5
	TypeAppendBlock        = 9
	TypeDeleteFile         = 11
	TypeRand               = 13
	TypeUserVar            = 14
	TypeFormatDescription  = 15
	TypeXID                = 16
	TypeBeginLoadQuery     = 17
	TypeExecuteLoadQuery   = 18
	TypeTableMap           = 19
	TypeIncident           = 26
	TypeHeartbeat          = 27
	TypeIgnorable          = 28
	TypeRowsQuery          = 29
	TypeGTID               = 33
	TypeAnonymousGTID      = 34
	TypePreviousGTIDs      = 35
	TypeXAPrepare          = 38
	TypePartialUpdateRows  = 39
	TypeTransactionPayload = 40
	TypeHeartbeatV2        = 41
	TypeGTIDTagged         = 42
	TypeAnnotateRows       = 160
	TypeBinlogCheckpoint   = 161
	TypeMariaGTID          = 162
	TypeMariaGTIDList      = 163
	TypeStartEncryption    = 164
	TypeQueryCompressed    = 165
	TypeLastMariaDB        = 171 // DELETE_ROWS_COMPRESSED_EVENT
)

var eventTypeNames = map[byte]string{
	0: "UNKNOWN_EVENT", 1: "START_EVENT_V3", 2: "QUERY_EVENT", 3: "STOP_EVENT",
	4: "ROTATE_EVENT", 5: "INTVAR_EVENT", 6: "LOAD_EVENT", 7: "SLAVE_EVENT",
	8: "CREATE_FILE_EVENT", 9: "APPEND_BLOCK_EVENT", 10: "EXEC_LOAD_EVENT",
	11: "DELETE_FILE_EVENT", 12: "NEW_LOAD_EVENT", 13: "RAND_EVENT",
	14: "USER_VAR_EVENT", 15: "FORMAT_DESCRIPTION_EVENT", 16: "XID_EVENT",
	17: "BEGIN_LOAD_QUERY_EVENT", 18: "EXECUTE_LOAD_QUERY_EVENT",
	19: "TABLE_MAP_EVENT", 20: "WRITE_ROWS_EVENT_V0", 21: "UPDATE_ROWS_EVENT_V0",
	22: "DELETE_ROWS_EVENT_V0", 23: "WRITE_ROWS_EVENT_V1", 24: "UPDATE_ROWS_EVENT_V1",
	25: "DELETE_ROWS_EVENT_V1", 26: "INCIDENT_EVENT", 27: "HEARTBEAT_EVENT",
	28: "IGNORABLE_EVENT", 29: "ROWS_QUERY_EVENT", 30: "WRITE_ROWS_EVENT_V2",
	31: "UPDATE_ROWS_EVENT_V2", 32: "DELETE_ROWS_EVENT_V2", 33: "GTID_EVENT",
	34: "ANONYMOUS_GTID_EVENT", 35: "PREVIOUS_GTIDS_EVENT",
	36: "TRANSACTION_CONTEXT_EVENT", 37: "VIEW_CHANGE_EVENT",
	38: "XA_PREPARE_LOG_EVENT", 39: "PARTIAL_UPDATE_ROWS_EVENT",
	40: "TRANSACTION_PAYLOAD_EVENT", 41: "HEARTBEAT_EVENT_V2",
	42:  "GTID_TAGGED_LOG_EVENT",
	160: "ANNOTATE_ROWS_EVENT", 161: "BINLOG_CHECKPOINT_EVENT", 162: "GTID_EVENT(MariaDB)",
	163: "GTID_LIST_EVENT", 164: "START_ENCRYPTION_EVENT", 165: "QUERY_COMPRESSED_EVENT",
	166: "WRITE_ROWS_COMPRESSED_EVENT_V1", 167: "UPDATE_ROWS_COMPRESSED_EVENT_V1",
	168: "DELETE_ROWS_COMPRESSED_EVENT_V1", 169: "WRITE_ROWS_COMPRESSED_EVENT",
	170: "UPDATE_ROWS_COMPRESSED_EVENT", 171: "DELETE_ROWS_COMPRESSED_EVENT",
}

// typeNames holds the name of every event type code.
var typeNames = func() (out [256]string) {
	for i := range out {
		n, ok := eventTypeNames[byte(i)]
		if !ok {
			n = "EVENT_TYPE_" + strconv.Itoa(i)
		}
		out[i] = n
	}
	return out
}()

// TypeName returns the server's name for an event type code, or
// "EVENT_TYPE_N" for a code neither MySQL nor MariaDB defines.
func TypeName(t byte) string { return typeNames[t] }
