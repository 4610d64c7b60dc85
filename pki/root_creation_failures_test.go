package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
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

// TestNewRootSignsWithRand: NewRoot hands opts.Rand to the signer of the
// root's certificate, after the serial number drawn from it: a signer
// that draws from it fails when it runs out there.
func TestNewRootSignsWithRand(t *testing.T) {
	ca, err := NewRoot(randSigner{newKey(t)}, CAOptions{CRLURL: "http://pki.example/root.crl", Rand: bytes.NewReader(bytes.Repeat([]byte{1}, 16))})
	assert.ErrorIs(t, err, io.EOF)
	assert.EqualError(t, err, "pki: create root: EOF")
	assert.Nil(t, ca)
}

// TestIssueFails: IssueCard and IssuePlatform return the error of the CA's
// Rand that runs out before the serial number is drawn, or before the
// CA's signer, which draws from it, signs, and that of the CA's signer
// that fails to sign the certificate.
func TestIssueFails(t *testing.T) {
	issue := map[string]func(ca *CA) ([]byte, error){
		"card":     func(ca *CA) ([]byte, error) { return ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{}) },
		"platform": func(ca *CA) ([]byte, error) { return ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{}) },
	}
	for name, issue := range issue {
		t.Run(name, func(t *testing.T) {
			h := newHierarchy(t)
			h.ca.rand = bytes.NewReader(make([]byte, 15))
			der, err := issue(h.ca)
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.EqualError(t, err, "pki: serial number: unexpected EOF")
			assert.Nil(t, der)

			h.ca.key = randSigner{h.ca.key.(*ecdsa.PrivateKey)}
			h.ca.rand = bytes.NewReader(bytes.Repeat([]byte{1}, 16))
			der, err = issue(h.ca)
			assert.ErrorIs(t, err, io.EOF)
			assert.EqualError(t, err, "pki: create certificate: EOF")
			assert.Nil(t, der)

			signed := true
			h.ca.key = onceSigner{h.ca.key, &signed}
			h.ca.rand = rand.Reader
			der, err = issue(h.ca)
			assert.ErrorIs(t, err, errHSMGone)
			assert.EqualError(t, err, "pki: create certificate: hsm gone")
			assert.Nil(t, der)
		})
	}
}
