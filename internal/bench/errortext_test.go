package bench

import (
	"errors"
	"strings"
	"testing"
)

// TestErrorTextHidesValues checks that the anchor's and the replica's
// error text loses what it quotes unless LogValues is set, and that the
// replay's own errors (which hide values themselves) pass unchanged.
func TestErrorTextHidesValues(t *testing.T) {
	anchorErr := errors.New("mariadb: exit status 1: ERROR 1062 (23000) at line 40: Duplicate entry 'secret' for key 'PRIMARY'")
	o := DefaultOptions()
	if got := o.errorText(method{kind: KindAnchor}, anchorErr); strings.Contains(got, "secret") || !strings.Contains(got, "ERROR 1062") {
		t.Errorf("anchor error: %q", got)
	}
	if got := o.errorText(method{kind: KindNative}, anchorErr); strings.Contains(got, "secret") {
		t.Errorf("native error: %q", got)
	}
	replayErr := errors.New("apply transaction #1: Duplicate entry '?' for key 'PRIMARY'")
	if got := o.errorText(method{kind: KindReplay}, replayErr); got != replayErr.Error() {
		t.Errorf("replay error changed: %q", got)
	}
	o.LogValues = true
	if got := o.errorText(method{kind: KindAnchor}, anchorErr); got != anchorErr.Error() {
		t.Errorf("anchor error with LogValues: %q", got)
	}
}
