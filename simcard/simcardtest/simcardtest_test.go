package simcardtest_test

import (
	"bytes"
	"testing"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRandomICCID(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		id, err := simcardtest.RandomICCID(nil)
		require.NoError(t, err)
		require.NoError(t, pki.ValidICCID(id))
		assert.Len(t, id, 19)
		seen[id] = true
	}
	assert.Greater(t, len(seen), 45)

	// A nil pointer is no source: RandomICCID refuses it, where reading
	// it would panic.
	assert.NotPanics(t, func() {
		_, err := simcardtest.RandomICCID((*bytes.Reader)(nil))
		assert.Error(t, err)
	})
	id, err := simcardtest.RandomICCID(bytes.NewReader(make([]byte, 64)))
	require.NoError(t, err)
	assert.Equal(t, "8900000000000000003", id, "the source given is read")
}

func TestNewCardOptions(t *testing.T) {
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	mem := new(applet.Memory)
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{Storage: mem, PIN: "2468", PUK: "87654321"})
	require.NoError(t, err)
	assert.Same(t, mem, v.Storage)
	require.ErrorIs(t, v.Card.VerifyPIN(simcardtest.PIN), simcard.ErrWrongPIN)
	require.NoError(t, v.Card.VerifyPIN("2468"))
	require.NoError(t, v.Card.Unblock("87654321", ""))
	_, err = simcardtest.NewCard(issuer, simcardtest.Options{ICCID: "89014103211118510721"})
	assert.ErrorIs(t, err, pki.ErrCardID)
}
