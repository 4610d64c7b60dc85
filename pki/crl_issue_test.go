package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRevokeKeepsItsTime: Revoke records the CA's time of the call, which
// a CRL issued later lists as the revocation date (not the time of that
// CRL), and keeps a copy of the serial number: the caller's changing its
// own afterwards changes neither the list nor the CRL.
func TestRevokeKeepsItsTime(t *testing.T) {
	clk := newClock(t0)
	h := newHierarchyAt(t, clk.now)
	revokedAt := t0.Add(90 * time.Minute)
	clk.set(revokedAt)
	serial := big.NewInt(77)
	require.NoError(t, h.ca.Revoke(serial, ReasonSuperseded))
	serial.SetInt64(78)
	clk.set(t0.Add(3 * time.Hour))

	require.Len(t, h.ca.Revoked(), 1)
	got := h.ca.Revoked()[0]
	assert.Equal(t, "77", got.Serial.String())
	assert.Equal(t, revokedAt, got.Time)
	assert.Equal(t, ReasonSuperseded, got.Reason)

	der, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.Len(t, crl.RevokedCertificateEntries, 1)
	e := crl.RevokedCertificateEntries[0]
	assert.Equal(t, "77", e.SerialNumber.String())
	assert.Equal(t, revokedAt, e.RevocationTime)
	assert.Equal(t, ReasonSuperseded, e.ReasonCode)
	assert.Equal(t, t0.Add(3*time.Hour), crl.ThisUpdate)
}

// TestCRLTimeYearInUTC: the years 0 to 9999 that a CRL carries are those
// of the times in UTC, whatever their zone: 9999-12-31T23:30Z, in the year
// 10000 in a zone an hour ahead, is listed; 10000-01-01T00:30Z, in the
// year 9999 in a zone an hour behind, is refused.
func TestCRLTimeYearInUTC(t *testing.T) {
	h := newHierarchy(t)
	last := time.Date(9999, 12, 31, 23, 30, 0, 0, time.UTC)
	ahead := last.In(time.FixedZone("ahead", 3600))
	require.Equal(t, 10000, ahead.Year())
	der, err := h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(5), Time: ahead, Reason: ReasonKeyCompromise}}, 1, t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.Len(t, crl.RevokedCertificateEntries, 1)
	assert.Equal(t, last, crl.RevokedCertificateEntries[0].RevocationTime)

	behind := time.Date(10000, 1, 1, 0, 30, 0, 0, time.UTC).In(time.FixedZone("behind", -3600))
	require.Equal(t, 9999, behind.Year())
	_, err = h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(5), Time: behind, Reason: ReasonKeyCompromise}}, 1, t0.Add(time.Hour))
	requireRefusal(t, err, ErrInvalid, -1)
	assert.EqualError(t, err, "pki: invalid argument: revocation time outside the years 0 to 9999 that a CRL can carry")
}

// TestIssueCRLAtTheLimit: IssueCRL issues a CRL of exactly MaxCRLSize
// octets, the most that a Verifier reads, holding every entry given, and
// refuses one a single octet longer (TestIssueCRLTooLong: longer ones are
// refused too). The CA signs with a signer whose signatures all take
// sigLen octets, so that the entries alone set the CRL's length.
func TestIssueCRLAtTheLimit(t *testing.T) {
	h := newHierarchy(t)
	ca, err := h.root.NewIntermediate(sigLenSigner{newKey(t)}, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	// Entries without a reason code, of serial numbers of l octets, take
	// 19+l octets each: n octets of entries are k entries of 20 to 39
	// octets, of serials of 4 octets or more, all distinct.
	entries := func(n int) []Revocation {
		k := (n + 38) / 39
		revoked := make([]Revocation, k)
		for i := range revoked {
			l := n/k - 19
			if i < n%k {
				l++
			}
			serial := new(big.Int).Lsh(big.NewInt(1), uint(8*l-2)) // l octets, the first below 0x80
			revoked[i] = Revocation{Serial: serial.Add(serial, big.NewInt(int64(i))), Time: t0.Add(-time.Hour)}
		}
		return revoked
	}
	// What a CRL holds besides its entries and signature, from one whose
	// elements' lengths take as many octets as at the limit.
	small := 1 << 17
	der, err := ca.IssueCRL(entries(small), 1, t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.Len(t, crl.Signature, sigLen)
	n := MaxCRLSize - (len(der) - small)

	revoked := entries(n)
	der, err = ca.IssueCRL(revoked, 1, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, der, MaxCRLSize)
	crl, err = x509.ParseRevocationList(der)
	require.NoError(t, err)
	assert.Len(t, crl.RevokedCertificateEntries, len(revoked))

	_, err = ca.IssueCRL(entries(n+1), 1, t0.Add(time.Hour))
	requireRefusal(t, err, ErrInvalid, -1)
	assert.EqualError(t, err, "pki: invalid argument: CRL of 8388609 octets, longer than the 8388608 that a Verifier reads")
}

// sigLen is the length of every signature of a sigLenSigner: that of an
// ECDSA P-256 signature of one 32-octet and one 33-octet integer, which
// half of them have.
const sigLen = 71

// sigLenSigner signs as its key, again until the signature is sigLen
// octets long.
type sigLenSigner struct{ *ecdsa.PrivateKey }

func (s sigLenSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	for {
		sig, err := s.PrivateKey.Sign(r, digest, opts)
		if err != nil || len(sig) == sigLen {
			return sig, err
		}
	}
}
