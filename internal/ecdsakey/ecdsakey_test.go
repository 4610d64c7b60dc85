package ecdsakey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/ecdsakey"
)

func TestScalarless(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	assert.False(t, ecdsakey.Scalarless(k), "a generated key")
	assert.True(t, ecdsakey.Scalarless(&ecdsa.PrivateKey{PublicKey: k.PublicKey}), "a public key alone")
	assert.True(t, ecdsakey.Scalarless(&ecdsa.PrivateKey{}), "a zero key")
}

// signer is a crypto.Signer that is no *ecdsa.PrivateKey, as an HSM's is:
// it names pub and signs with key, or fails with err.
type signer struct {
	pub *ecdsa.PublicKey
	key *ecdsa.PrivateKey
	err error
}

func (s signer) Public() crypto.PublicKey { return s.pub }

func (s signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.key.Sign(r, digest, opts)
}

// TestHolds: a key in memory holds the public key computed from its
// scalar, not one set beside another scalar, nor any without a scalar; a
// signer of another type holds the public key that verifies what it
// signs, and its failure is returned as it is.
func TestHolds(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	check := func(key crypto.Signer, pub *ecdsa.PublicKey) bool {
		t.Helper()
		held, err := ecdsakey.Holds(key, pub)
		require.NoError(t, err)
		return held
	}
	assert.True(t, check(k, &k.PublicKey), "a generated key")
	assert.False(t, check(k, &other.PublicKey), "another public key")
	//lint:ignore SA1019 a key whose scalar is not its point's
	mixed := &ecdsa.PrivateKey{PublicKey: k.PublicKey, D: other.D}
	assert.False(t, check(mixed, &k.PublicKey), "a scalar that is not the point's")
	assert.False(t, check(&ecdsa.PrivateKey{PublicKey: k.PublicKey}, &k.PublicKey), "no scalar")

	assert.True(t, check(signer{pub: &k.PublicKey, key: k}, &k.PublicKey), "a signer of its key")
	assert.False(t, check(signer{pub: &k.PublicKey, key: other}, &k.PublicKey), "a signer of another key")
	boom := errors.New("signer down")
	_, err = ecdsakey.Holds(signer{pub: &k.PublicKey, key: k, err: boom}, &k.PublicKey)
	assert.ErrorIs(t, err, boom)
}
