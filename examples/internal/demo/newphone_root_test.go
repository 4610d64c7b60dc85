package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/pki"
)

// TestNewPhoneBadRoot: a phone given a root certificate that does not
// parse, which it would verify receipts with, is not made: NewPhone fails
// with the verifier's error.
func TestNewPhoneBadRoot(t *testing.T) {
	ctx := t.Context()
	w := newPhones(ctx, t, nil, nil)
	for _, name := range []string{"alice", "till"} {
		ph, err := NewPhone(Grocery.Party(name), w.cards[name], w.cloud.Platform, NewPrinter(&w.out).Screen(name), []byte("not a certificate"))
		assert.Nil(t, ph)
		assert.ErrorIs(t, err, pki.ErrUntrusted, name)
		assert.EqualError(t, err, "pki: untrusted certificate chain: root 0 is malformed: x509: malformed certificate", name)
	}
}
