package event

import "fmt"

// Error is returned for input that cannot be turned into transactions: a
// corrupt or unsupported event, a checksum mismatch, a bad start position.
// It names the file (base name), the offset of the event concerned and, when
// known, the event's type.
type Error struct {
	File      string
	Offset    uint64
	EventType string
	Err       error
}

// Error formats e as "binlog FILE at offset N (EVENT_TYPE): ...".
func (e *Error) Error() string {
	if e.EventType == "" {
		return fmt.Sprintf("binlog %s at offset %d: %v", e.File, e.Offset, e.Err)
	}
	return fmt.Sprintf("binlog %s at offset %d (%s): %v", e.File, e.Offset, e.EventType, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
