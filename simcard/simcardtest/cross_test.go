package simcardtest_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"testing"

	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrossCertificate: the cross-certificate of a root is a CA
// certificate of the root's name and key, issued by the CA of common name
// CrossCommonName: the certificate that the root issued verifies under
// it, and it does not verify under the root's key.
func TestCrossCertificate(t *testing.T) {
	root, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	der, err := simcardtest.CrossCertificate(root)
	require.NoError(t, err)
	cross, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	assert.Equal(t, root.Certificate().RawSubject, cross.RawSubject)
	require.IsType(t, &ecdsa.PublicKey{}, cross.PublicKey)
	assert.True(t, cross.PublicKey.(*ecdsa.PublicKey).Equal(root.Signer().Public()), "the root's key")
	assert.Equal(t, simcardtest.CrossCommonName, cross.Issuer.CommonName)
	assert.True(t, cross.IsCA)
	assert.Equal(t, x509.KeyUsageCertSign, cross.KeyUsage)
	require.NoError(t, issuer.Certificate().CheckSignatureFrom(cross))
	assert.EqualError(t, cross.CheckSignatureFrom(root.Certificate()), "x509: ECDSA verification failure", "no root")
}
