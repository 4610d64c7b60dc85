package payflow

import (
	"fmt"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
)

// TestProtocolSessionConstants keeps the figures that PROTOCOL.md §6.1
// and §6.2 give of reloads of the cards, the phones' answers on EIDs and
// the rounds of a lost compare-and-set, and the constants in step.
func TestProtocolSessionConstants(t *testing.T) {
	protocoldoc.Says(t, "### 6.1 Login, pairing and sessions",
		fmt.Sprintf("once every %d s (`payflow.CardReloadInterval`, the phones' `UnknownPeerTTL`)", int(CardReloadInterval.Seconds())),
		fmt.Sprintf("at the latest %d s after the change (`payflow.CardReloadInterval`)", int(CardReloadInterval.Seconds())),
		fmt.Sprintf("a name for %d s (`payflow.PeerNameTTL`), a `not_found` for %d s (`payflow.UnknownPeerTTL`)",
			int(PeerNameTTL.Seconds()), int(UnknownPeerTTL.Seconds())),
	)
	protocoldoc.Says(t, "### 6.2 States of a payment request",
		fmt.Sprintf("goes round at most %d times (`payflow.MaxConflictRetries`)", MaxConflictRetries),
		fmt.Sprintf("the %dst loss, which only a store whose conflict never resolves gives, fails the call with `unavailable` (`payflow.ErrContended`)", MaxConflictRetries+1),
	)
}
