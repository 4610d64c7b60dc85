package applet_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolSignRecordFieldOutOfRange pins PROTOCOL.md §2.6 step 2: the
// card decodes the data "strictly into the type P1 names (`6A80` on any
// deviation from the deterministic encoding, unknown keys, or a field out
// of range)". Each payload below is deterministic CBOR of known keys, one
// field out of range; the card answers 6A80 and uses no counter.
func TestProtocolSignRecordFieldOutOfRange(t *testing.T) {
	// lowerCurrency returns p with its currency "EUR" written "eur", which
	// §3 refuses ("three capital letters").
	lowerCurrency := func(p []byte) []byte {
		eur := []byte{0x63, 'E', 'U', 'R'}
		require.Equal(t, 1, bytes.Count(p, eur))
		return bytes.Replace(p, eur, []byte{0x63, 'e', 'u', 'r'}, 1)
	}
	shortNonce := payload(t, sampleAuthProof())
	nonce := []byte{0x03, 0x58, 0x20} // 3: nonce, a byte string of 32
	i := bytes.Index(shortNonce, nonce)
	require.Positive(t, i)
	// The nonce of 31 octets: its head 58 1F and its first 31 octets.
	shortNonce = bytes.Join([][]byte{shortNonce[:i], {0x03, 0x58, 0x1F}, shortNonce[i+3 : i+3+31], shortNonce[i+3+32:]}, nil)

	for _, tc := range []struct {
		name string
		p1   string
		data []byte
	}{
		{"consent with currency eur", "03", lowerCurrency(payload(t, sampleConsent()))},
		{"refund request with currency eur", "04", lowerCurrency(payload(t, sampleRefund()))},
		{"auth proof with a nonce of 31 octets", "01", shortNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newCard(t, simcardtest.Options{})
			_, sw := tx(t, v.Applet, "0020008006313233343536") // a consent needs the PIN first
			require.Equal(t, uint16(0x9000), sw)
			_, sw = tx(t, v.Applet, apdu("8050"+tc.p1+"00", tc.data, "00"))
			assert.Equalf(t, uint16(0x6A80), sw, "a field out of range: status word %04X", sw)
			assertStored(t, v.Applet, "0104", make([]byte, 8)) // a refused record uses no counter
		})
	}
}

// TestProtocolInternalAuthenticateNoChain pins PROTOCOL.md §2.7: "The
// challenge travels in one command: INTERNAL AUTHENTICATE takes no chain (a
// chained link answers `6884`)". The link starts no chain: the next command
// is answered as any other, not 6883.
func TestProtocolInternalAuthenticateNoChain(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	link := "1088000008" + strings.Repeat("A5", 8) + "00"
	_, sw := tx(t, v.Applet, link)
	assert.Equalf(t, uint16(0x6884), sw, "chained INTERNAL AUTHENTICATE: status word %04X", sw)
	data, sw := tx(t, v.Applet, "00CA010100")
	assert.Equalf(t, uint16(0x9000), sw, "the command after it: status word %04X", sw)
	assert.Equal(t, []byte(testICCID), data)
	_, sw = tx(t, v.Applet, "0088000008"+strings.Repeat("A5", 8)+"00")
	assert.Equalf(t, uint16(0x9000), sw, "the challenge in one command: status word %04X", sw)
}

// TestProtocolAdvertOfAnyEpoch pins PROTOCOL.md §2.8: the card "answers the
// advert of §1.1 with the role of P1, the flags of P2 and the card's
// calibrated transmit power", its EID that of the epoch given; "The card
// has no clock: it answers the advert of any epoch asked for, past or to
// come, ... no PIN is asked."
func TestProtocolAdvertOfAnyEpoch(t *testing.T) {
	v := newCard(t, simcardtest.Options{Applet: applet.Options{TxPower: -8}})
	_, sw := tx(t, v.Applet, "00200080")
	require.Equal(t, uint16(0x63C3), sw, "no PIN verified")
	for _, epoch := range []uint32{0, 1, 2945376, math.MaxUint32 - 1, math.MaxUint32} {
		for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
			for _, flags := range []adv.Flags{0, adv.FlagBusy, adv.FlagAssets, adv.FlagBusy | adv.FlagAssets} {
				cmd := fmt.Sprintf("8052%02X%02X04%08X00", byte(role), byte(flags), epoch)
				got, sw := tx(t, v.Applet, cmd)
				require.Equalf(t, uint16(0x9000), sw, "%s: status word %04X", cmd, sw)
				eid, err := adv.DeriveEID(v.Enrolment.AdvertisingSecret, epoch)
				require.NoError(t, err)
				want, err := adv.Packet{Role: role, EID: eid, TxPower: -8, Flags: flags}.MarshalBinary()
				require.NoError(t, err)
				assert.Equal(t, want, got, cmd)
			}
		}
	}
}

// TestProtocolExampleNotes pins the notes of PROTOCOL.md §2.10 that the
// patterns of TestProtocolExamples leave out: the answer cut at 256 octets
// with "256 octets, 139 more" behind 61 8B, and "GET ADVERT seller, epoch
// 2945376", each against the exchange of session.apdu it stands for.
func TestProtocolExampleNotes(t *testing.T) {
	s := protocoldoc.Section(t, "### 2.10 Examples")
	ex, _ := transcriptExchanges(t, "session.apdu")
	// find returns the data and status word of the one exchange of the
	// transcript whose command (cmd) or response matches pattern.
	find := func(pattern string, cmd bool) (c, r []byte) {
		t.Helper()
		re := regexp.MustCompile("^" + pattern + "$")
		var found []exchange
		for _, e := range ex {
			if (cmd && re.MatchString(e.cmd)) || (!cmd && re.MatchString(e.resp)) {
				found = append(found, e)
			}
		}
		require.Len(t, found, 1, "the exchanges of session.apdu matching %s", pattern)
		c, err := hex.DecodeString(found[0].cmd)
		require.NoError(t, err)
		r, err = hex.DecodeString(found[0].resp)
		require.NoError(t, err)
		return c, r
	}

	m := regexp.MustCompile(`(?m)^< (.+?)\s{2,}(\d+) octets, (\d+) more$`).FindStringSubmatch(s)
	require.NotNil(t, m, "PROTOCOL.md §2.10: the answer of \"N octets, M more\"")
	_, r := find(apduPattern(t, m[1]), false)
	n, err := strconv.Atoi(m[2])
	require.NoError(t, err)
	more, err := strconv.Atoi(m[3])
	require.NoError(t, err)
	assert.Len(t, r, n+2, "PROTOCOL.md §2.10: %s octets before the status word", m[2])
	assert.Equal(t, []byte{0x61, byte(more)}, r[len(r)-2:], "PROTOCOL.md §2.10: %s more", m[3])

	m = regexp.MustCompile(`(?m)^> (.+?)\s{2,}GET ADVERT (\w+), epoch (\d+)$`).FindStringSubmatch(s)
	require.NotNil(t, m, "PROTOCOL.md §2.10: GET ADVERT")
	c, _ := find(apduPattern(t, m[1]), true)
	role := map[string]adv.Role{"shopper": adv.Shopper, "seller": adv.Seller}[m[2]]
	require.NotZero(t, role, "PROTOCOL.md §2.10: role %q", m[2])
	epoch, err := strconv.ParseUint(m[3], 10, 32)
	require.NoError(t, err)
	require.Len(t, c, 10, "GET ADVERT: header, Lc, the epoch, Le")
	assert.Equal(t, byte(role), c[2], "P1: the role %s", m[2])
	assert.Equal(t, uint32(epoch), binary.BigEndian.Uint32(c[5:9]), "the epoch")
}
