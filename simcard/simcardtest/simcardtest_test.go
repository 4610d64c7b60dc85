package simcardtest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

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

// TestNewCAAt: both CAs of NewCAAt take their times from the clock given:
// their certificates', the certificates they issue and their CRLs' this
// update start at its time (to the second, as certificates carry it).
func TestNewCAAt(t *testing.T) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	root, issuer, err := simcardtest.NewCAAt(func() time.Time { return at })
	require.NoError(t, err)
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	assert.Equal(t, start, root.Certificate().NotBefore, "the root's certificate")
	assert.Equal(t, start, issuer.Certificate().NotBefore, "the issuing CA's certificate")

	at = at.Add(time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := issuer.IssueCard(key.Public(), "8900000000000000003", pki.IssueOptions{})
	require.NoError(t, err)
	cert, err := pki.ParseCertificate(der)
	require.NoError(t, err)
	assert.Equal(t, start.Add(time.Hour), cert.NotBefore, "a card's certificate")
	for name, ca := range map[string]*pki.CA{"root": root, "issuing CA": issuer} {
		der, err := ca.CRL(at.Add(24 * time.Hour))
		require.NoError(t, err, name)
		crl, err := x509.ParseRevocationList(der)
		require.NoError(t, err, name)
		assert.Equal(t, start.Add(time.Hour), crl.ThisUpdate, "%s's CRL", name)
	}
}
