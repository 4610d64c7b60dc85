package sqlstate

import (
	"fmt"
	"testing"

	"github.com/casimpay/casimpay/internal/pgretry"
	"github.com/casimpay/casimpay/internal/protocoldoc"
)

// TestProtocolEnrolmentReruns keeps what PROTOCOL.md §6.7 says of an
// enrolment that PostgreSQL ends with a deadlock, how often it runs again
// and after how long a wait at most, and the constants in step.
func TestProtocolEnrolmentReruns(t *testing.T) {
	protocoldoc.Says(t, "### 6.7 State storage",
		fmt.Sprintf("runs again, at most %d times, after a randomized backoff of up to %d ms",
			maxReruns, pgretry.Backoff(maxReruns, 1).Milliseconds()),
	)
}
