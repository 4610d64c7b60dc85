package payflow_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestNewPlatformReportsItsFirstFault: options with two faults are
// refused for the one that NewPlatform's godoc lists first: a missing
// required option (Ledger, Store, Verifier, then Key and Chain, as
// PlatformOptions names them) before an option out of range, which comes
// before any fault of the receipt key; a key off P-256 before one
// without its private scalar, and one that does not sign with its public
// key's private key before one that its certificate does not name.
func TestNewPlatformReportsItsFirstFault(t *testing.T) {
	opts := platformOptions(t)
	newKey := func(curve elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		return k
	}
	p384, other, third := newKey(elliptic.P384()), newKey(elliptic.P256()), newKey(elliptic.P256())
	for _, c := range []struct {
		name string
		set  func(*payflow.PlatformOptions)
		want string
	}{
		{"none required", func(o *payflow.PlatformOptions) { *o = payflow.PlatformOptions{TokenTTL: -1} },
			"payflow: no ledger"},
		{"a ledger only", func(o *payflow.PlatformOptions) { *o = payflow.PlatformOptions{Ledger: o.Ledger, TokenTTL: -1} },
			"payflow: no store"},
		{"no verifier, key or chain", func(o *payflow.PlatformOptions) { o.Verifier, o.Key, o.Chain, o.TokenTTL = nil, nil, nil, -1 },
			"payflow: no verifier"},
		{"no key", func(o *payflow.PlatformOptions) { o.Key, o.TokenTTL = nil, -1 },
			"payflow: no receipt key and chain"},
		{"out of range, key off P-256", func(o *payflow.PlatformOptions) {
			o.Key, o.Chain, o.TokenTTL = p384, [][]byte{platCertFor(t, p384.Public())}, -1
		}, "payflow: invalid request: payflow: negative TokenTTL -1ns"},
		{"off P-256 without a scalar", func(o *payflow.PlatformOptions) {
			o.Key, o.Chain = &ecdsa.PrivateKey{PublicKey: p384.PublicKey}, [][]byte{platCertFor(t, p384.Public())}
		}, "payflow: receipt key is not ECDSA P-256"},
		{"another key's scalar, not the certificate's key", func(o *payflow.PlatformOptions) {
			//lint:ignore SA1019 a key whose scalar is another key's
			o.Key = &ecdsa.PrivateKey{PublicKey: other.PublicKey, D: third.D}
		}, "payflow: receipt key does not sign with its public key's private key"},
	} {
		o := opts
		c.set(&o)
		_, err := payflow.NewPlatform(o)
		assert.EqualError(t, err, c.want, c.name)
	}
}
