package vpcd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
)

// TestProtocolVirtualCard keeps PROTOCOL.md §2.11 and the bridge in step:
// vpcd's address, the ATR and the longest ATR taken.
func TestProtocolVirtualCard(t *testing.T) {
	protocoldoc.Says(t, "### 2.11 Virtual card for PC/SC",
		"TCP to "+DefaultAddr+",",
		"The ATR is `"+strings.ToUpper(fmt.Sprintf("% x", DefaultATR))+"`:",
		fmt.Sprintf("of at most %d octets, the most pcscd takes", maxATR),
	)
}
