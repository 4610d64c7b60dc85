package simcardtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"

	"github.com/casimpay/casimpay/pki"
)

// CrossCommonName is the common name of the CA that issues the
// certificates of CrossCertificate.
const CrossCommonName = "CA-SIM Cross Root"

// CrossCertificate returns the DER of a cross-certificate of ca: a CA
// certificate of ca's subject name and public key, valid from an hour ago
// to an hour from now, that the CA of common name CrossCommonName issued
// with a fresh P-256 key of its own. Every certificate ca issued links to
// it, which is no root (ca's key did not sign it).
func CrossCertificate(ca *pki.CA) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), RawSubject: ca.Certificate().RawSubject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}, &x509.Certificate{Subject: pkix.Name{CommonName: CrossCommonName}}, ca.Signer().Public(), k)
}
