package pki

import (
	"bytes"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// damagedPEM returns block as PEM with a character of its base64 that
// is no base64, which pem.Decode cannot decode and passes over.
func damagedPEM(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	p := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	i := bytes.IndexByte(p, '\n') + 3
	p[i] = '*'
	b, _ := pem.Decode(p)
	require.Nil(t, b, "a damaged block pem.Decode passes over")
	return p
}

// TestPEMDamagedBlock: a file whose block of the type wanted cannot be
// decoded is refused, naming the damaged block, instead of read as if the
// block were not there (a chain without its middle certificate, a CRL or
// a key further on).
func TestPEMDamagedBlock(t *testing.T) {
	h := newHierarchy(t)
	good := CertificatePEM(h.card)
	damaged := damagedPEM(t, pemCertificate, h.ca.DER())
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	for name, data := range map[string][]byte{
		"damaged middle":              cat(good, damaged, good),
		"damaged last":                cat(good, damaged),
		"damaged first":               cat(damaged, good),
		"damaged alone":               damaged,
		"begin line without end line": cat([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n"), good),
	} {
		_, err := ParseCertificatesPEM(data)
		assert.Equal(t, &Error{Err: ErrInvalid, Cert: -1, Reason: "malformed PEM certificate block"}, err, name)
	}
	// A damaged block of another type is text between blocks, as
	// before; so is a line that begins no block.
	ders, err := ParseCertificatesPEM(cat(good, damagedPEM(t, pemCRL, []byte{1, 2, 3}), []byte("x-----BEGIN CERTIFICATE-----\n"), good))
	require.NoError(t, err)
	assert.Equal(t, [][]byte{h.card, h.card}, ders)

	crl, err := h.ca.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	_, err = ParseCRLPEM(cat(good, damagedPEM(t, pemCRL, crl), CRLPEM(crl)))
	assert.Equal(t, &Error{Err: ErrInvalid, Cert: -1, Reason: "malformed PEM CRL block"}, err)
	back, err := ParseCRLPEM(cat(damaged, CRLPEM(crl), damagedPEM(t, pemCRL, crl)))
	require.NoError(t, err, "the first CRL is read; what follows it is not")
	assert.Equal(t, crl, back)

	kp, err := PrivateKeyPEM(h.cardKey)
	require.NoError(t, err)
	kb, _ := pem.Decode(kp)
	for _, typ := range []string{"PRIVATE KEY", "EC PRIVATE KEY"} {
		_, err = ParsePrivateKeyPEM(cat(damagedPEM(t, typ, kb.Bytes), kp))
		assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "malformed PEM private key block"}, err, typ)
	}
	k, err := ParsePrivateKeyPEM(cat(damaged, kp))
	require.NoError(t, err, "a damaged certificate before a key")
	assert.True(t, h.cardKey.Equal(k))
}
