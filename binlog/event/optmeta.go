package event

import (
	"errors"
	"fmt"
)

// OptMeta is the optional metadata of a table map that the reader uses.
// It is decoded here rather than by go-mysql, whose decoder sizes slices
// from unchecked lengths.
type OptMeta struct {
	Signedness []byte
	Names      []string
	PrimaryKey []int
}

// Optional metadata field types (MySQL rows_event.h, MariaDB log_event.h).
const (
	optSignedness       = 1
	optColumnName       = 4
	optSimplePrimaryKey = 8
	optPrimaryKeyPrefix = 9
)

// ParseOptMeta decodes the type-length-value optional metadata of a table
// map; fields it does not use are skipped.
func ParseOptMeta(b []byte) (OptMeta, error) {
	var m OptMeta
	for pos := 0; pos < len(b); {
		typ := b[pos]
		l, p, err := LengthEncodedInt(b, pos+1)
		if err != nil || l > uint64(len(b)-p) {
			return m, fmt.Errorf("table map optional metadata field %d is malformed", typ)
		}
		v := b[p : p+int(l)]
		pos = p + int(l)
		switch typ {
		case optSignedness:
			m.Signedness = v
		case optColumnName:
			for i := 0; i < len(v); {
				n, j, err := LengthEncodedInt(v, i)
				if err != nil || n > uint64(len(v)-j) {
					return m, errors.New("table map column names are malformed")
				}
				m.Names = append(m.Names, string(v[j:j+int(n)]))
				i = j + int(n)
			}
		case optSimplePrimaryKey, optPrimaryKeyPrefix:
			for i := 0; i < len(v); {
				c, j, err := LengthEncodedInt(v, i)
				if err == nil && typ == optPrimaryKeyPrefix {
					_, j, err = LengthEncodedInt(v, j) // prefix length
				}
				if err != nil || c > 1<<16 {
					return m, errors.New("table map primary key is malformed")
				}
				m.PrimaryKey = append(m.PrimaryKey, int(c))
				i = j
			}
		}
	}
	return m, nil
}
