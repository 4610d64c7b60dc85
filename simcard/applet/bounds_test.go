package applet_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
)

// TestStatusWordsAtTheBounds sends a personalised, selected card commands
// at and just past the limits of their lengths and parameters, after the
// commands of pre.
func TestStatusWordsAtTheBounds(t *testing.T) {
	challenge := func(n int) string {
		return "00880000" + fmt.Sprintf("%02X", n) + strings.Repeat("A5", n) + "00"
	}
	cardID := sampleAuthProof()
	cardID.CardID = testICCID // and no counter
	counter := sampleAuthProof()
	counter.Counter = 1 // and no card ID
	signAuthProof := fmt.Sprintf("8050%02X00", byte(record.TypeAuthProof))
	tests := []struct {
		name string
		pre  []string
		cmd  string
		sw   uint16
	}{
		{name: "GET RESPONSE P2", pre: []string{"00CA010113"}, cmd: "00C0000100", sw: 0x6A86},
		{name: "GET RESPONSE after one with a wrong P2", pre: []string{"00CA010113", "00C0000100"}, cmd: "00C0000000", sw: 0x6985},
		{name: "GET RESPONSE", pre: []string{"00CA010113"}, cmd: "00C0000000", sw: 0x9000},
		{name: "GET RESPONSE after a command of another class", pre: []string{"00CA010113", "FFCA010100"}, cmd: "00C0000001", sw: 0x6985},
		{name: "GET RESPONSE after a malformed command", pre: []string{"00CA010113", "00CA010102AA"}, cmd: "00C0000001", sw: 0x6985},

		{name: "SELECT of the AID and one octet more", cmd: "00A4040008F0434153494D010100", sw: 0x6A82},
		{name: "SELECT of the AID less its last octet", cmd: "00A4040006F0434153494D00", sw: 0x6A82},

		{name: "authenticate challenge of 7", cmd: challenge(simcard.MinChallenge - 1), sw: 0x6A80},
		{name: "authenticate challenge of 8", cmd: challenge(simcard.MinChallenge), sw: 0x9000},
		{name: "authenticate challenge of 64", cmd: challenge(simcard.MaxChallenge), sw: 0x9000},
		{name: "authenticate challenge of 65", cmd: challenge(simcard.MaxChallenge + 1), sw: 0x6A80},
		{name: "authenticate P2", cmd: "0088000108" + strings.Repeat("A5", 8) + "00", sw: 0x6A86},

		{name: "advert epoch of 5 octets", cmd: "8052010005002CF1600000", sw: 0x6700},
		{name: "advert epoch of 4 octets", cmd: "8052010004002CF16000", sw: 0x9000},

		{name: "record with a card ID from the phone", cmd: apdu(signAuthProof, payload(t, cardID), "00"), sw: 0x6A80},
		{name: "record with a counter from the phone", cmd: apdu(signAuthProof, payload(t, counter), "00"), sw: 0x6A80},
		{name: "record without card ID or counter", cmd: apdu(signAuthProof, payload(t, sampleAuthProof()), "00"), sw: 0x9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newCard(t, simcardtest.Options{})
			for _, p := range tt.pre {
				tx(t, v.Applet, p)
			}
			_, sw := tx(t, v.Applet, tt.cmd)
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
		})
	}
}

// TestPINTriesAboveSeven: the status words of VERIFY count tries left up
// to MaxTries in their low nibble.
func TestPINTriesAboveSeven(t *testing.T) {
	v := newCard(t, simcardtest.Options{Applet: applet.Options{PINTries: simcard.MaxTries, PUKTries: simcard.MaxTries}})
	_, sw := tx(t, v.Applet, "00200080")
	assert.Equalf(t, uint16(0x63CF), sw, "status word %04X", sw)
	_, sw = tx(t, v.Applet, "0020008006313131313131")
	assert.Equalf(t, uint16(0x63CE), sw, "status word %04X", sw)
	_, sw = tx(t, v.Applet, "002C0180083131313131313131")
	assert.Equalf(t, uint16(0x63CE), sw, "status word %04X", sw)
}
