package adapt

import (
	"testing"
)

func TestSerialMode(t *testing.T) {
	var s SerialMode
	ticket := uint64(0)
	// send dispatches a group of n transactions that waits for the group
	// before it, or for nothing.
	send := func(n int, waits bool) {
		first, dependsOn := ticket+1, uint64(0)
		if waits {
			dependsOn = ticket
		}
		ticket += uint64(n)
		s.Dispatched(first, dependsOn, n)
	}
	for i := 0; i < serialAfter; i++ {
		send(64, true)
		if i == serialAfter/2 {
			send(64, false) // an independent group starts the count again
		}
	}
	if s.Active() {
		t.Fatal("serial after fewer than serialAfter waiting groups in a row")
	}
	// Since the independent group: 15 waiting groups, then 17 more.
	for i := 0; i < serialAfter/2+1; i++ {
		send(64, true)
	}
	if !s.Active() {
		t.Fatalf("not serial after %d waiting groups in a row", serialAfter)
	}
	// Small groups: serialAfterTxns transactions are needed too.
	var small SerialMode
	for i := 0; i < serialAfterTxns-1; i++ {
		small.Dispatched(uint64(i+2), uint64(i+1), 1)
	}
	if small.Active() {
		t.Fatalf("serial after %d transactions in waiting groups", serialAfterTxns-1)
	}
	// While decoding is off, groups keep waiting (row barriers); after
	// serialProbe transactions it is turned on again to look.
	for n := 0; n+64 < serialProbe; n += 64 {
		send(64, true)
		if !s.Active() {
			t.Fatalf("decoding back on after %d transactions", n+64)
		}
	}
	send(64, true)
	if s.Active() {
		t.Fatalf("decoding still off after %d transactions", serialProbe)
	}
	// The probe sees parallelism: decoding stays on.
	for i := 0; i < 3*serialAfter; i++ {
		send(10, i%2 == 0)
	}
	if s.Active() {
		t.Fatal("serial while every other group is independent")
	}
}
