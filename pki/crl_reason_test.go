package pki

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAddCRLWithoutNextUpdateReason: a CRL without a next update (optional
// in RFC 5280, required by the profile) is refused for having none, not
// as one whose next update is not after its this update, and leaves the
// card's CRL missing.
func TestAddCRLWithoutNextUpdateReason(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{Revocation: RevocationLeaf})
	err := v.AddCRL(withoutNextUpdate(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{})))
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "CRL without a next update"}, err)
	_, err = v.VerifyCard(h.chain())
	assert.Equal(t, &Error{Err: ErrCRL, Cert: 0, Reason: "no CRL of the issuer"}, err)
}
