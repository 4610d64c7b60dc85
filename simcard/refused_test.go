package simcard_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuthenticateChallengeLengthRefused: a challenge of the wrong length
// (outside MinChallenge to MaxChallenge) is ErrRefused, from Authenticate
// and Signer.Sign alike, before anything is sent: the card would answer
// 6A80, and no short APDU carries one over 255 octets.
func TestAuthenticateChallengeLengthRefused(t *testing.T) {
	v := newCard(t)
	rec := newRecorder(v.Applet, nil)
	c := simcard.New(rec)
	s, err := c.Signer()
	require.NoError(t, err)
	for _, n := range []int{0, simcard.MinChallenge - 1, simcard.MaxChallenge + 1, 255, 256, 300} {
		sent := len(rec.commands())
		_, err := c.Authenticate(bytes.Repeat([]byte{1}, n))
		assert.ErrorIs(t, err, simcard.ErrRefused, "Authenticate, challenge of %d octets", n)
		_, err = s.Sign(nil, bytes.Repeat([]byte{1}, n), simcard.ChallengeOpts{})
		assert.ErrorIs(t, err, simcard.ErrRefused, "Signer.Sign, challenge of %d octets", n)
		assert.Equal(t, sent, len(rec.commands()), "nothing sent for a challenge of %d octets", n)
	}
	for _, n := range []int{simcard.MinChallenge, simcard.MaxChallenge} {
		sig, err := c.Authenticate(bytes.Repeat([]byte{1}, n))
		require.NoError(t, err, "challenge of %d octets", n)
		assert.True(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, v.Enrolment.ICCID, bytes.Repeat([]byte{1}, n), sig))
	}
}

// TestSignRecordTooLargeRefused: a record whose fields are all valid but
// whose signed message would exceed record.MaxMessage, its payload beyond
// the card's 8192 octets of command data or within them, is ErrRefused and
// record.ErrMalformed, before anything is sent: no counter is used.
func TestSignRecordTooLargeRefused(t *testing.T) {
	v := newCard(t)
	rec := newRecorder(v.Applet, nil)
	c := simcard.New(rec)
	id := bytes.Repeat([]byte{1}, record.IDSize)
	r := &record.PaymentRequest{RequestID: id, SessionID: id, PayerCardID: v.Enrolment.ICCID,
		MerchantID: strings.Repeat("m", record.MaxText), Currency: "EUR", Amount: 1}
	for i := range record.MaxItems {
		r.Items = append(r.Items, record.Item{SKU: strings.Repeat("s", record.MaxText-2) + string(rune('a'+i/26)) + string(rune('a'+i%26)), Quantity: 1 << 62})
	}
	for i := range record.MaxLegs {
		r.Legs = append(r.Legs, record.Leg{Asset: strings.Repeat("a", record.MaxText-1) + string(rune('a'+i)), Amount: 1 << 62})
	}
	refused := func(t *testing.T, r *record.PaymentRequest) {
		before, err := c.Counter()
		require.NoError(t, err)
		sent := len(rec.commands())
		msg, err := c.SignPaymentRequest(r)
		assert.Nil(t, msg)
		assert.ErrorIs(t, err, simcard.ErrRefused)
		assert.ErrorIs(t, err, record.ErrMalformed)
		assert.Equal(t, sent, len(rec.commands()), "nothing sent")
		after, err := c.Counter()
		require.NoError(t, err)
		assert.Equal(t, before, after, "nothing signed")
	}

	t.Run("beyond the command data", func(t *testing.T) {
		payload, err := record.Marshal(r)
		require.NoError(t, err, "every field is valid")
		require.Greater(t, len(payload), simcard.MaxCommandData)
		refused(t, r)
	})
	t.Run("within the command data", func(t *testing.T) {
		r := *r
		for {
			payload, err := record.Marshal(&r)
			require.NoError(t, err, "every field is valid")
			if len(payload) <= simcard.MaxCommandData {
				require.Greater(t, record.MessageSize(record.TypePaymentRequest, payload), record.MaxMessage)
				break
			}
			r.Items = r.Items[:len(r.Items)-1]
		}
		refused(t, &r)
	})
}

// TestSignRecordNilRefused: a nil record is an error matching
// record.ErrType, before anything is sent, from each of the signing
// methods.
func TestSignRecordNilRefused(t *testing.T) {
	v := newCard(t)
	rec := newRecorder(v.Applet, nil)
	c := simcard.New(rec)
	for name, sign := range map[string]func() ([]byte, error){
		"SignAuthProof":      func() ([]byte, error) { return c.SignAuthProof(nil) },
		"SignPaymentRequest": func() ([]byte, error) { return c.SignPaymentRequest(nil) },
		"SignConsent":        func() ([]byte, error) { return c.SignConsent(nil) },
		"SignRefundRequest":  func() ([]byte, error) { return c.SignRefundRequest(nil) },
	} {
		sent := len(rec.commands())
		msg, err := sign()
		assert.Nil(t, msg, name)
		assert.ErrorIs(t, err, record.ErrType, name)
		assert.Equal(t, sent, len(rec.commands()), "%s: nothing sent", name)
	}
}
