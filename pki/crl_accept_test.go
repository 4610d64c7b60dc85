package pki

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestAddCRLAcceptsWhatRFC5280Allows: AddCRL takes a CRL of the card CA
// that RFC 5280 allows and IssueCRL does not write, and applies it: one
// numbered 0 (§5.2.3: a non-negative integer), and one whose entry carries
// its reason code as a critical extension, the one critical entry
// extension the verifier knows. Either lists the card, which is then
// refused as revoked.
func TestAddCRLAcceptsWhatRFC5280Allows(t *testing.T) {
	for name, crl := range map[string]func(t *testing.T, ca *CA, serial *big.Int) []byte{
		"numbered 0": func(t *testing.T, ca *CA, serial *big.Int) []byte {
			return createCRL(t, ca, &x509.RevocationList{
				Number:                    big.NewInt(0),
				RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: t0}},
			})
		},
		"a critical reason code": func(t *testing.T, ca *CA, serial *big.Int) []byte {
			der, err := ca.IssueCRL([]Revocation{{Serial: serial}}, 1, t0.Add(time.Hour))
			require.NoError(t, err)
			return crlTime(t, ca, der, 2, func(b *cryptobyte.Builder, at time.Time) {
				b.AddASN1UTCTime(at)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidReasonCode)
						b.AddASN1Boolean(true)
						b.AddASN1OctetString([]byte{0x0a, 0x01, ReasonKeyCompromise})
					})
				})
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHierarchy(t)
			v := newVerifier(t, h, newClock(t0), VerifierOptions{})
			rootCRL, err := h.root.CRL(t0.Add(time.Hour))
			require.NoError(t, err)
			require.NoError(t, v.AddCRL(rootCRL))
			require.NoError(t, v.AddCRL(crl(t, h.ca, mustParse(t, h.card).SerialNumber)))
			_, err = v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)
		})
	}
}
