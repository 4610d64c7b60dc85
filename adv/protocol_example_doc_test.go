package adv

import (
	"encoding/hex"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolWorkedExampleSetting pins the prose of PROTOCOL.md §1.4
// against the values below it, which TestProtocolWorkedExample recomputes:
// "A seller's card with advertising secret `00 01 … 0f`, at
// 2026-01-01T00:00:00Z, Tx power −8 dBm, no flags, default UUID, and a
// shopper's card with secret `10 11 … 1f` at the same instant": the
// secrets, the unix time, and the seller advert's transmit power, flags and
// UUID.
func TestProtocolWorkedExampleSetting(t *testing.T) {
	s := protocoldoc.Prose(t, "### 1.4 Worked example")
	m := regexp.MustCompile("A seller's card with advertising secret `([0-9a-f]{2}) ([0-9a-f]{2}) … ([0-9a-f]{2})`, " +
		"at (\\S+), Tx power −([0-9]+) dBm, no flags, default UUID, and a shopper's card with secret " +
		"`([0-9a-f]{2}) ([0-9a-f]{2}) … ([0-9a-f]{2})` at the same instant").FindStringSubmatch(s)
	require.NotNil(t, m, "PROTOCOL.md §1.4: the setting of the worked example")
	// run returns the octets first, second, … last, each one more than
	// the one before.
	run := func(first, second, last string) []byte {
		t.Helper()
		b, err := hex.DecodeString(first + second + last)
		require.NoError(t, err)
		require.Equal(t, b[0]+1, b[1], "a run of octets %s %s … %s", first, second, last)
		var out []byte
		for c := b[0]; c != b[2]+1; c++ {
			out = append(out, c)
		}
		return out
	}
	v := workedExample(t)
	assert.Equal(t, hexValue(t, v, "seller secret"), run(m[1], m[2], m[3]), "the seller's secret")
	assert.Equal(t, hexValue(t, v, "shopper secret"), run(m[6], m[7], m[8]), "the shopper's secret")
	at, err := time.Parse(time.RFC3339, m[4])
	require.NoError(t, err)
	assert.Equal(t, at.Unix(), intValue(t, v, "unix time"), "the instant")

	power, err := strconv.Atoi(m[5])
	require.NoError(t, err)
	advert := hexValue(t, v, "seller advert")
	p, err := Parse(advert) // under DefaultUUID
	require.NoError(t, err, "the seller advert under the default UUID")
	assert.Equal(t, Packet{Role: Seller, EID: [16]byte(hexValue(t, v, "seller EID")), TxPower: int8(-power)}, p,
		"the seller advert: Tx power −%d dBm, no flags", power)
	_, err = Codec{UUID: DefaultUUID - 1}.Parse(advert)
	assert.ErrorIs(t, err, ErrForeign, "the seller advert is under the default UUID alone")
}
