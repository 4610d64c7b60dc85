package pki

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

var errHSMGone = errors.New("hsm gone")

// onceSigner signs once, as a signer whose device is removed after NewRoot
// checked it.
type onceSigner struct {
	crypto.Signer
	signed *bool
}

func (s onceSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if *s.signed {
		return nil, errHSMGone
	}
	*s.signed = true
	return s.Signer.Sign(r, digest, opts)
}

// TestNewRootFails: NewRoot returns the error of a Rand that runs out
// before the serial number is drawn, and that of a signer that fails to
// sign the certificate.
func TestNewRootFails(t *testing.T) {
	key := newKey(t)
	ca, err := NewRoot(key, CAOptions{CRLURL: "http://pki.example/root.crl", Rand: bytes.NewReader(make([]byte, 15))})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.EqualError(t, err, "pki: serial number: unexpected EOF")
	assert.Nil(t, ca)

	ca, err = NewRoot(onceSigner{key, new(bool)}, CAOptions{CRLURL: "http://pki.example/root.crl"})
	assert.ErrorIs(t, err, errHSMGone)
	assert.EqualError(t, err, "pki: create root: hsm gone")
	assert.Nil(t, ca)
}

// TestNewIntermediateFails: NewIntermediate returns the error of the
// issuing CA's Rand that runs out before the serial number is drawn, and
// that of the issuing CA's signer that fails to sign the certificate.
func TestNewIntermediateFails(t *testing.T) {
	opts := CAOptions{CRLURL: "http://pki.example/root.crl"}
	newRoot := func() *CA {
		root, err := NewRoot(newKey(t), opts)
		assert.NoError(t, err)
		return root
	}
	drained := newRoot()
	drained.rand = bytes.NewReader(make([]byte, 15))
	ca, err := drained.NewIntermediate(newKey(t), opts)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.EqualError(t, err, "pki: serial number: unexpected EOF")
	assert.Nil(t, ca)

	gone := newRoot()
	signed := true
	gone.key = onceSigner{gone.key, &signed}
	ca, err = gone.NewIntermediate(newKey(t), opts)
	assert.ErrorIs(t, err, errHSMGone)
	assert.EqualError(t, err, "pki: create intermediate: hsm gone")
	assert.Nil(t, ca)
}
