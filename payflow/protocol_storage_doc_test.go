package payflow

import (
	"fmt"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/pki/record"
)

// spaced writes n as PROTOCOL.md writes numbers of more than four
// digits: its thousands apart, as in 100 000.
func spaced(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s %03d", spaced(n/1000), n%1000)
}

// TestProtocolStorageLimits keeps the limits that PROTOCOL.md §6.3 and
// §6.7 give for a request's receipt, the platform's caches and the text
// that a store keeps and the constants in step.
func TestProtocolStorageLimits(t *testing.T) {
	protocoldoc.Says(t, "### 6.3 Creating a request",
		fmt.Sprintf("is at most %d bytes signed without the platform's chain", record.MaxMessage),
	)
	protocoldoc.Says(t, "### 6.7 State storage",
		fmt.Sprintf("the platform's own, at most %s, kept without expiry", spaced(maxOwnAccounts)),
		fmt.Sprintf("tokens that it issued or read (at most %s: one more drops", spaced(maxCached)),
		fmt.Sprintf("of at most `MaxKeySize` (%d) bytes", MaxKeySize),
	)
}

// TestProtocolSettlementLimits keeps the limits that PROTOCOL.md §6.4
// gives for kept consents, asset ledgers, the platform's own accounts and
// the recovery sweep and the code in step.
func TestProtocolSettlementLimits(t *testing.T) {
	sweep, err := sweepLimit(0)
	if err != nil {
		t.Fatal(err)
	}
	hours := map[time.Duration]string{time.Hour: "an hour"}[MaxRecoverDelay]
	protocoldoc.Says(t, "### 6.4 Consent and settlement",
		fmt.Sprintf("of several requests, up to %d (`payflow.MaxKeptConsents`", MaxKeptConsents),
		fmt.Sprintf("up to %s of them (one more drops the one kept first)", spaced(maxOwnAccounts)),
		fmt.Sprintf("and `limit` refunds (%d by default)", sweep),
		fmt.Sprintf("and at most %s (`payflow.MaxRecoverDelay`", hours),
	)
}
