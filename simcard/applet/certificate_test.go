package applet_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPutCertificateCardURI: PUT DATA 0102 takes a certificate only if it
// names the card as verifiers do (PROTOCOL.md §2.4, §4.3): one subject
// alternative name, the URI urn:casim:card:<ICCID> in exactly those bytes.
// A certificate that every verifier would refuse is refused by the card at
// personalisation, not accepted and activated.
func TestPutCertificateCardURI(t *testing.T) {
	ca := testIssuer(t)
	uri := func(s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(s)}
	}
	dns := func(s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(s)}
	}
	tests := []struct {
		name  string
		names []asn1.RawValue // the GeneralNames of the subject alternative name
		sw    uint16
	}{
		{"the card URI", []asn1.RawValue{uri(pki.CardURIPrefix + testICCID)}, 0x9000},
		{"upper-case scheme", []asn1.RawValue{uri("URN:casim:card:" + testICCID)}, 0x6A80},
		{"a DNS name besides the URI", []asn1.RawValue{uri(pki.CardURIPrefix + testICCID), dns("card.example")}, 0x6A80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, pub := keyedBlank(t)

			san, err := asn1.Marshal(tt.names)
			require.NoError(t, err)
			cert, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: testICCID},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
				ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}},
			}, ca.Certificate(), pub, ca.Signer())
			require.NoError(t, err)
			_, sw := tx(t, a, "00DA0102"+"00"+hexFour(len(cert))+hexOf(cert))
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
		})
	}
}

// TestPutICCIDDropsCertificate: writing another ICCID at personalisation
// drops the certificate issued for the one before (as GENERATE KEY drops
// the certificate of the key it replaces), so that no state holds a
// certificate naming another card; writing the same ICCID again keeps it.
func TestPutICCIDDropsCertificate(t *testing.T) {
	const otherICCID = "8986009876543210989"
	a, cert := certifiedBlank(t)
	_, sw := tx(t, a, apdu("00DA0101", []byte(testICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	got, sw := tx(t, a, "00CA0102000000") // extended Le: the whole certificate
	require.Equal(t, uint16(0x9000), sw, "the same ICCID keeps the certificate")
	assert.Equal(t, cert, got)

	_, sw = tx(t, a, apdu("00DA0101", []byte(otherICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, "00CA0102000000")
	assert.Equal(t, uint16(0x6A88), sw, "the certificate of the other ICCID is gone")
}
