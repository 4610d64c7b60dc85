package simcard_test

import (
	"bytes"
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// certDER is a certificate of 8 octets as Chain reads one: a DER SEQUENCE.
const certDER = "3006020101020102"

// TestGetDataEmpty: the card answers 6A88 for a data object it does not
// hold (PROTOCOL.md §2.4) and never 9000 without data. A GET DATA answered
// 9000 without data is refused with ErrResponse, so that a certificate or
// an issuer chain answered empty passes neither for a chain without its
// certificate or issuers nor, when Personalise reads the chain back, for
// none stored.
func TestGetDataEmpty(t *testing.T) {
	for name, tt := range map[string]struct {
		steps [][2]string
		call  func(*simcard.Card) (any, error)
	}{
		"Chain, the certificate": {
			[][2]string{{"00CA010200", "9000"}},
			func(c *simcard.Card) (any, error) { return c.Chain() },
		},
		"Chain, the issuer chain": {
			[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", "9000"}},
			func(c *simcard.Card) (any, error) { return c.Chain() },
		},
		"Certificate": {
			[][2]string{{"00CA010200", "9000"}},
			func(c *simcard.Card) (any, error) { return c.Certificate() },
		},
		"GetData": {
			[][2]string{{"00CA010700", "9000"}},
			func(c *simcard.Card) (any, error) { return c.GetData(simcard.TagChain) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			got, err := tt.call(simcard.New(s))
			require.ErrorIs(t, err, simcard.ErrResponse)
			var se *simcard.StatusError
			assert.NotErrorAs(t, err, &se)
			assert.Nil(t, got)
			assert.Empty(t, s.steps)
		})
	}
	t.Run("Chain without issuers", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", "6A88"}}}
		chain, err := simcard.New(s).Chain()
		require.NoError(t, err)
		assert.Equal(t, [][]byte{unhex(t, certDER)}, chain)
	})
	t.Run("Personalise reads back an empty chain", func(t *testing.T) {
		// A root puts no chain; the card answers the chain read back with
		// 9000 and no data, where it answers 6A88 when it holds none.
		root, _, err := simcardtest.NewCA()
		require.NoError(t, err)
		a, err := applet.New(new(applet.Memory), applet.Options{})
		require.NoError(t, err)
		getChain := []byte{0x00, simcard.InsGetData, 0x01, 0x07, 0x00}
		i := &interceptor{a: a, hook: func(cmd []byte) []byte {
			if bytes.Equal(cmd, getChain) {
				return []byte{0x90, 0x00}
			}
			return nil
		}}
		pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
		enr, err := simcard.New(i).Personalise(root, pers)
		require.ErrorIs(t, err, simcard.ErrResponse)
		assert.Nil(t, enr)
		assertNotActivated(t, a)
	})
}

// TestChainIssuersMalformed: an issuer chain that does not split into DER
// SEQUENCEs, back to back, is ErrResponse: no certificate of it, nor the
// card's, is taken.
func TestChainIssuersMalformed(t *testing.T) {
	for name, issuers := range map[string]string{
		"an octet after a certificate": certDER + "00",
		"an OCTET STRING":              "0400",
		"a certificate cut short":      certDER[:len(certDER)-2],
		"a length not in DER":          "308106020101020102",
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: [][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", issuers + "9000"}}}
			chain, err := simcard.New(s).Chain()
			require.ErrorIs(t, err, simcard.ErrResponse)
			assert.Nil(t, chain)
			assert.Empty(t, s.steps)
		})
	}
}

// TestChainCertificateMalformed: a card certificate that is not one DER
// SEQUENCE, alone, is ErrResponse before the issuer chain is read, as a
// malformed issuer chain is: no part of it is taken for the certificate.
func TestChainCertificateMalformed(t *testing.T) {
	for name, cert := range map[string]string{
		"an octet after the certificate": certDER + "00",
		"two certificates":               certDER + certDER,
		"an OCTET STRING":                "0400",
		"a certificate cut short":        certDER[:len(certDER)-2],
		"a length not in DER":            "308106020101020102",
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: [][2]string{{"00CA010200", cert + "9000"}}}
			chain, err := simcard.New(s).Chain()
			require.ErrorIs(t, err, simcard.ErrResponse)
			assert.ErrorContains(t, err, "card certificate")
			assert.Nil(t, chain)
			assert.Empty(t, s.steps)
		})
	}
}

// TestChainReadStatus: a certificate or issuer chain answered with a status
// word other than 9000, a warning or another success included, whether to
// GET DATA or to a GET RESPONSE after it, ends Chain with a *StatusError
// naming that status word and the instruction it answered: no part of a
// chain read is taken for the whole.
func TestChainReadStatus(t *testing.T) {
	for name, tt := range map[string]struct {
		steps [][2]string
		want  simcard.StatusError
	}{
		"certificate, 6282": {[][2]string{{"00CA010200", certDER + "6282"}}, simcard.StatusError{SW: 0x6282, Ins: simcard.InsGetData}},
		"issuer chain, 6310": {[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", certDER + "6310"}},
			simcard.StatusError{SW: 0x6310, Ins: simcard.InsGetData}},
		"issuer chain, 9001": {[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", certDER + "9001"}},
			simcard.StatusError{SW: 0x9001, Ins: simcard.InsGetData}},
		"issuer chain, 6283 to GET RESPONSE": {[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", certDER + "6108"}, {"00C0000008", certDER + "6283"}},
			simcard.StatusError{SW: 0x6283, Ins: simcard.InsGetResponse}},
		"issuer chain, 6A88 to GET RESPONSE": {[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", certDER + "6108"}, {"00C0000008", "6A88"}},
			simcard.StatusError{SW: 0x6A88, Ins: simcard.InsGetResponse}},
		// PROTOCOL.md §2.4: 6A88 answers GET DATA of an object not held;
		// 6A82 (file or application not found) says no such thing.
		"issuer chain, 6A82": {[][2]string{{"00CA010200", certDER + "9000"}, {"00CA010700", "6A82"}},
			simcard.StatusError{SW: 0x6A82, Ins: simcard.InsGetData}},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			chain, err := simcard.New(s).Chain()
			var se *simcard.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.want, *se)
			assert.Nil(t, chain)
			assert.Empty(t, s.steps)
		})
	}
}

// TestPersonaliseReadBackStatus: Personalise, which puts no chain for a
// root issuer, reads back a chain the card announces (61xx) and then
// answers GET RESPONSE with 6A88, or one whose GET DATA the card answers
// 6A82 rather than 6A88: the chain is neither taken for none stored nor
// activated; the error names the status word and the instruction it
// answered.
func TestPersonaliseReadBackStatus(t *testing.T) {
	root, _, err := simcardtest.NewCA()
	require.NoError(t, err)
	getChain := []byte{0x00, simcard.InsGetData, 0x01, 0x07, 0x00}
	for name, tt := range map[string]struct {
		answer string // to GET DATA 0107; a 61xx is followed by 6A88 to GET RESPONSE
		want   simcard.StatusError
	}{
		"6A88 to GET RESPONSE": {certDER + "6108", simcard.StatusError{SW: simcard.SWDataNotFound, Ins: simcard.InsGetResponse}},
		"6A82 to GET DATA":     {"6A82", simcard.StatusError{SW: simcard.SWFileNotFound, Ins: simcard.InsGetData}},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			announced := false
			i := &interceptor{a: a, hook: func(cmd []byte) []byte {
				switch {
				case bytes.Equal(cmd, getChain):
					announced = true
					return unhex(t, tt.answer)
				case announced && cmd[1] == simcard.InsGetResponse:
					announced = false
					return []byte{0x6A, 0x88}
				}
				return nil
			}}
			pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
			enr, err := simcard.New(i).Personalise(root, pers)
			var se *simcard.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.want, *se)
			assert.NotErrorIs(t, err, simcard.ErrNotStored)
			assert.Nil(t, enr)
			assertNotActivated(t, a)
		})
	}
}
