package simcard_test

import (
	"bytes"
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuthenticateChallengeLengthRefused: a challenge of the wrong length
// is ErrRefused, from Authenticate and Signer.Sign alike: the card answers
// 6A80 to one it receives, and one over 255 octets, which no short APDU
// carries and INTERNAL AUTHENTICATE takes in no chain, is refused before
// anything is sent.
func TestAuthenticateChallengeLengthRefused(t *testing.T) {
	v := newCard(t)
	rec := newRecorder(v.Applet, nil)
	c := simcard.New(rec)
	s, err := c.Signer()
	require.NoError(t, err)
	for _, n := range []int{simcard.MinChallenge - 1, simcard.MaxChallenge + 1, 255, 256, 300} {
		sent := len(rec.commands())
		_, err := c.Authenticate(bytes.Repeat([]byte{1}, n))
		assert.ErrorIs(t, err, simcard.ErrRefused, "Authenticate, challenge of %d octets", n)
		_, err = s.Sign(nil, bytes.Repeat([]byte{1}, n), simcard.ChallengeOpts{})
		assert.ErrorIs(t, err, simcard.ErrRefused, "Signer.Sign, challenge of %d octets", n)
		if n > 255 {
			assert.Equal(t, sent, len(rec.commands()), "nothing sent for a challenge of %d octets", n)
		} else {
			assert.Equal(t, sent+2, len(rec.commands()), "one INTERNAL AUTHENTICATE each for a challenge of %d octets", n)
		}
	}
}
