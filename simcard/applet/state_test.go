package applet_test

import (
	"bytes"
	"testing"

	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStateCutShort: a stored state cut short at any octet is refused with
// ErrState, not read past its end.
func TestStateCutShort(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	good, err := v.Storage.Load()
	require.NoError(t, err)
	for n := range len(good) {
		m := new(applet.Memory)
		require.NoError(t, m.Store(bytes.Clone(good[:n])))
		_, err := applet.New(m, applet.Options{})
		require.ErrorIs(t, err, applet.ErrState, "state cut to %d of %d octets", n, len(good))
	}
}

// TestStateWithoutTries: a stored state that allows no PIN or no PUK tries
// is refused with ErrState, even with none left.
func TestStateWithoutTries(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	good, err := v.Storage.Load()
	require.NoError(t, err)
	for _, at := range []int{2, 4} { // PIN tries and maximum, PUK tries and maximum
		b := bytes.Clone(good)
		b[at], b[at+1] = 0, 0
		m := new(applet.Memory)
		require.NoError(t, m.Store(b))
		_, err := applet.New(m, applet.Options{})
		assert.ErrorIs(t, err, applet.ErrState, "octets %d and %d zero", at, at+1)
	}
}

// TestPINReferenceSalted: the stored PIN and PUK references hash the card's
// salt: under another salt the right PIN and PUK are wrong.
func TestPINReferenceSalted(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	good, err := v.Storage.Load()
	require.NoError(t, err)
	// The salt follows the ICCID, the key, the certificate, the chain and
	// the advertising secret.
	salt, end, ok := fieldSpan(good, 5)
	require.True(t, ok)
	require.Equal(t, 16, end-salt, "the salt")
	b := bytes.Clone(good)
	b[salt] ^= 0x01
	a := selectedOn(t, b)
	_, sw := tx(t, a, "0020008006"+hexOf([]byte(simcardtest.PIN)))
	assert.Equalf(t, uint16(0x63C2), sw, "status word %04X", sw)
	_, sw = tx(t, a, "002C018008"+hexOf([]byte(simcardtest.PUK)))
	assert.Equalf(t, uint16(0x63C2), sw, "status word %04X", sw)
}
