package payflow

import (
	"fmt"
	"testing"

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
