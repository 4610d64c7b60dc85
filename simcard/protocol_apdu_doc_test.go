package simcard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolAPDUCases keeps the table of the command cases of
// PROTOCOL.md §2.1 and ParseCommand in step: a command laid out as each
// row has it parses with the row's Nc and Ne, its Le of zeros included.
func TestProtocolAPDUCases(t *testing.T) {
	rows := protocoldoc.Table(t, "### 2.1 APDUs")
	for _, r := range rows {
		require.Len(t, r, 4, "row %q", r)
		layout, _, _ := strings.Cut(strings.TrimPrefix(r[1], "`"), "`")
		// The command with Lc 3 and Le 5, and with Le of zeros.
		for _, zeroLe := range []bool{false, true} {
			b := []byte{0x00, 0xCA, 0x00, 0x00}
			for _, f := range strings.Fields(strings.TrimPrefix(layout, "CLA INS P1 P2")) {
				switch f {
				case "…":
				case "00":
					b = append(b, 0)
				case "Lc":
					b = append(b, 3)
				case "Lc1":
					b = append(b, 0)
				case "Lc2":
					b = append(b, 3)
				case "data":
					b = append(b, 1, 2, 3)
				case "Le", "Le2":
					b = append(b, map[bool]byte{false: 5, true: 0}[zeroLe])
				case "Le1":
					b = append(b, 0)
				default:
					t.Fatalf("row %q: %q", r, f)
				}
			}
			c, err := simcard.ParseCommand(b)
			require.NoError(t, err, "row %q: % x", r, b)
			nc := map[string]int{"0": 0, "Lc": 3}[r[2]]
			assert.Len(t, c.Data, nc, "row %q: Nc", r)
			ne := 0
			switch r[3] {
			case "0":
			case "Le, `00` = 256":
				ne = map[bool]int{false: 5, true: 256}[zeroLe]
			case "Le, `0000` = 65536":
				ne = map[bool]int{false: 5, true: 65536}[zeroLe]
			default:
				t.Fatalf("row %q: Ne %q", r, r[3])
			}
			assert.Equal(t, ne, c.Ne, "row %q: Ne of % x", r, b)
			assert.Equal(t, strings.HasSuffix(r[0], "E"), c.Extended, "row %q: extended", r)
		}
	}
	assert.Len(t, rows, 7, "cases 1, 2S, 3S, 4S, 2E, 3E, 4E")
}

// TestProtocolCardLimits keeps the limits and the life states of the card
// that PROTOCOL.md §2 gives and the constants of this package in step.
func TestProtocolCardLimits(t *testing.T) {
	protocoldoc.Says(t, "## 2. CA-SIM applet",
		fmt.Sprintf("Command data, chained or not, is at most %d octets", simcard.MaxCommandData),
		fmt.Sprintf("outside %d–%d octets (`simcard.MinChallenge`, `simcard.MaxChallenge`)", simcard.MinChallenge, simcard.MaxChallenge),
		fmt.Sprintf("The PIN has %d to %d decimal digits and %d tries (a card may be made with up to %d); the PUK has %d digits and its own %d tries",
			simcard.MinPIN, simcard.MaxPIN, simcard.DefaultTries, simcard.MaxTries, simcard.PUKLength, simcard.DefaultTries),
		fmt.Sprintf("A blank card is in the **personalisation** state (`%02X`)", simcard.LifePersonalisation),
		fmt.Sprintf("to the **operational** state (`%02X`)", simcard.LifeOperational),
	)
}
