package ecdsakey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
