package sqlstate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/pgretry"
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

// TestProtocolEnrolmentReruns keeps what PROTOCOL.md §6.7 says of an
// enrolment that PostgreSQL ends with a deadlock, how often it runs again
// and after how long a wait at most, and the constants in step.
func TestProtocolEnrolmentReruns(t *testing.T) {
	protocoldoc.Says(t, "### 6.7 State storage",
		fmt.Sprintf("runs again, at most %d times, after a randomized backoff of up to %d ms",
			maxReruns, pgretry.Backoff(maxReruns, 1).Milliseconds()),
	)
}
