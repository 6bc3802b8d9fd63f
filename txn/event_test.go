package txn

import "testing"

func TestSequenceShaped(t *testing.T) {
	seq := []byte{8, 8, 8, 8, 8, 8, 1, 8}
	for _, c := range []struct {
		name     string
		types    []byte
		nullable []bool
		want     bool
	}{
		{"a sequence", seq, make([]bool, 8), true},
		{"no nullability logged", seq, nil, true},
		{"a nullable column", seq, []bool{false, false, false, true, false, false, false, false}, false},
		{"seven columns", seq[:7], nil, false},
		{"an INT where a BIGINT is", []byte{8, 8, 3, 8, 8, 8, 1, 8}, nil, false},
		{"nine columns", append(append([]byte{}, seq...), 8), nil, false},
	} {
		tm := &TableMap{ColumnTypes: c.types, Nullable: c.nullable}
		if got := tm.SequenceShaped(); got != c.want {
			t.Errorf("%s: SequenceShaped() = %v, want %v", c.name, got, c.want)
		}
	}
}
