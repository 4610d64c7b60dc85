package payflow

import (
	"fmt"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
)

// TestProtocolPhoneLimits keeps the figures of what the phones keep that
// PROTOCOL.md §5.6 and §6.1 give and the constants of the code in step:
// the request indexes a seller moves past in one call and the requests its
// card signs then, the requests it remembers seen paid, the sessions whose
// next index it keeps, the held requests it keeps (and of those past their
// hold expiry), and the answers on EIDs that a phone keeps.
func TestProtocolPhoneLimits(t *testing.T) {
	protocoldoc.Says(t, "### 5.6 Finding a session's payment requests",
		fmt.Sprintf("(up to %d times in one call before it asks at the next index, and when that one is taken too, once more and then gives up: %d requests signed at most;",
			maxRequestIndexSkips, maxRequestIndexSkips+1),
		fmt.Sprintf("(of the last %d requests it saw paid:", keptPaidRequests),
		fmt.Sprintf("it keeps the next index of the %d sessions it selected last", keptRequestIndexes),
		fmt.Sprintf("left out as past its hold expiry (of the last %d) is sent", MaxHeld),
		fmt.Sprintf("phone keeps at most %d (`payflow.MaxHeld`)", MaxHeld),
	)
	names := fmt.Sprintf("%d,%03d", maxNames/1000, maxNames%1000) // as §6.1 writes it
	protocoldoc.Says(t, "### 6.1 Login, pairing and sessions",
		fmt.Sprintf("or while it keeps %s answers; if it still keeps %s then,", names, names),
		fmt.Sprintf("if the marks alone are %s, it forgets them too", names),
	)
}
