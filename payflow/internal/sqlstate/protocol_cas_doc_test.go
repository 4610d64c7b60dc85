package sqlstate

import (
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
)

// TestProtocolCompareAndSet keeps the conditions that PROTOCOL.md §6.2
// quotes of the compare-and-set of a payment request and of the update
// that a seller card's pairing proof cancels the session's requests with,
// and the statements in step.
func TestProtocolCompareAndSet(t *testing.T) {
	where := func(q string) string {
		i := strings.Index(q, "WHERE ")
		if i < 0 {
			t.Fatalf("no WHERE in %q", q)
		}
		return strings.Join(strings.Fields(q[i:]), " ")
	}
	protocoldoc.Says(t, "### 6.2 States of a payment request",
		"(`UPDATE … "+where(qUpdatePayment)+"`)",
		"`UPDATE … SET state = CASE state …, void_to = CASE state … "+where(qCancelPending)+"`",
	)
}
