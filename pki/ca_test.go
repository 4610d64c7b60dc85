package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIssueCardProfile(t *testing.T) {
	h := newHierarchy(t)
	c, err := ParseCertificate(h.card)
	require.NoError(t, err)

	_, err = x509.ParseCertificate(h.card)
	assert.Error(t, err, "crypto/x509 cannot parse the wide EKU arc; ParseCertificate exists for this")

	assert.Equal(t, h.card, c.Raw)
	assert.Equal(t, 3, c.Version)
	assert.Equal(t, testICCID, c.Subject.CommonName)
	assert.Equal(t, x509.ECDSAWithSHA256, c.SignatureAlgorithm)
	require.Len(t, c.URIs, 1)
	assert.Equal(t, "urn:casim:card:"+testICCID, c.URIs[0].String())
	assert.Empty(t, c.DNSNames)
	assert.Equal(t, x509.KeyUsageDigitalSignature, c.KeyUsage)
	assert.True(t, c.BasicConstraintsValid)
	assert.False(t, c.IsCA)
	assert.Equal(t, []string{"http://pki.example/card.crl"}, c.CRLDistributionPoints)
	assert.Equal(t, t0, c.NotBefore)
	assert.Equal(t, t0.Add(DefaultCardValidity), c.NotAfter)
	assert.Equal(t, h.ca.Certificate().SubjectKeyId, c.AuthorityKeyId)
	assert.Equal(t, profileKeyID(t, c), c.SubjectKeyId)
	assert.True(t, h.cardKey.PublicKey.Equal(c.PublicKey))
	assert.Positive(t, c.SerialNumber.Sign())
	assert.LessOrEqual(t, c.SerialNumber.BitLen(), 127)

	ekus, err := ExtKeyUsages(c)
	require.NoError(t, err)
	require.Len(t, ekus, 1)
	assert.True(t, ekus[0].Equal(OIDCardAuth))
	for _, e := range c.Extensions {
		if e.Id.Equal(x509OIDKeyUsage) {
			assert.True(t, e.Critical, "key usage is critical")
		}
		if e.Id.Equal(oidExtKeyUsage) {
			assert.False(t, e.Critical, "extended key usage is not critical")
		}
	}
	require.NoError(t, c.CheckSignatureFrom(h.ca.Certificate()))

	// Serial numbers are random.
	other, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	oc, err := ParseCertificate(other)
	require.NoError(t, err)
	assert.NotEqual(t, 0, oc.SerialNumber.Cmp(c.SerialNumber))
}

func TestCAProfile(t *testing.T) {
	h := newHierarchy(t)
	root, ca := h.root.Certificate(), h.ca.Certificate()
	assert.True(t, root.IsCA)
	assert.Equal(t, 1, root.MaxPathLen)
	assert.Equal(t, x509.KeyUsageCertSign|x509.KeyUsageCRLSign, root.KeyUsage)
	assert.Equal(t, t0.Add(DefaultRootValidity), root.NotAfter)
	assert.Equal(t, "CA-SIM Root CA", root.Subject.CommonName)
	assert.Empty(t, root.CRLDistributionPoints)
	assert.Nil(t, h.root.Chain())

	assert.True(t, ca.IsCA)
	assert.Equal(t, 0, ca.MaxPathLen)
	assert.True(t, ca.MaxPathLenZero)
	assert.Equal(t, x509.KeyUsageCertSign|x509.KeyUsageCRLSign, ca.KeyUsage)
	assert.Equal(t, "CA-SIM Card CA", ca.Subject.CommonName)
	assert.Equal(t, []string{"http://pki.example/root.crl"}, ca.CRLDistributionPoints)
	assert.Equal(t, [][]byte{ca.Raw}, h.ca.Chain())
	require.NoError(t, ca.CheckSignatureFrom(root))

	_, err := h.ca.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/x.crl"})
	assert.ErrorIs(t, err, ErrUsage, "path length 0 forbids a sub-CA")
}

// TestIssuedKeyIdentifiers: every certificate the package issues (roots of
// a P-256 and of a P-384 key, the CAs under them, a card's, the
// platform's, a CA's and a platform's named as their issuer) has the
// subject key identifier of PROTOCOL.md §4.3, the first 160 bits of the
// SHA-256 of its subjectPublicKey as profileKeyID reads it from the
// encoded certificate, and the one of its issuer's key as its authority
// key identifier: a root its own.
func TestIssuedKeyIdentifiers(t *testing.T) {
	h := newHierarchy(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	root384, err := NewRoot(p384, CAOptions{CRLURL: "http://pki.example/root384.crl", Now: fixed(t0)})
	require.NoError(t, err)
	ca384, err := root384.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/ca384.crl", Now: fixed(t0)})
	require.NoError(t, err)
	platform, err := h.ca.IssuePlatform(newKey(t).Public(), "casimpay platform", IssueOptions{})
	require.NoError(t, err)
	// A CA and a platform certificate named as their issuer: crypto/x509
	// takes the subject key identifier of a certificate's issuer for its
	// authority key identifier only when the two names differ.
	sameName, err := h.root.NewIntermediate(newKey(t), CAOptions{
		Subject: h.root.Certificate().Subject, CRLURL: "http://pki.example/same.crl", Now: fixed(t0),
	})
	require.NoError(t, err)
	named, err := h.ca.IssuePlatform(newKey(t).Public(), h.ca.Certificate().Subject.CommonName, IssueOptions{})
	require.NoError(t, err)
	root, ca := h.root.Certificate(), h.ca.Certificate()
	for _, c := range []struct {
		name         string
		cert, issuer *x509.Certificate
	}{
		{"root", root, root},
		{"card CA", ca, root},
		{"card", mustParse(t, h.card), ca},
		{"platform", mustParse(t, platform), ca},
		{"P-384 root", root384.Certificate(), root384.Certificate()},
		{"CA under a P-384 root", ca384.Certificate(), root384.Certificate()},
		{"CA named as its issuer", sameName.Certificate(), root},
		{"platform named as its issuer", mustParse(t, named), ca},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, profileKeyID(t, c.cert), c.cert.SubjectKeyId, "subject key identifier")
			assert.Equal(t, profileKeyID(t, c.issuer), c.cert.AuthorityKeyId, "authority key identifier")
		})
	}
}

func TestIssuePlatformProfile(t *testing.T) {
	h := newHierarchy(t)
	k := newKey(t)
	der, err := h.ca.IssuePlatform(k.Public(), "casimpay platform", IssueOptions{Validity: time.Hour})
	require.NoError(t, err)
	c, err := ParseCertificate(der)
	require.NoError(t, err)
	assert.Equal(t, "casimpay platform", c.Subject.CommonName)
	assert.Empty(t, c.URIs)
	assert.Equal(t, x509.KeyUsageDigitalSignature, c.KeyUsage)
	assert.Equal(t, t0.Add(time.Hour), c.NotAfter)
	ekus, err := ExtKeyUsages(c)
	require.NoError(t, err)
	require.Len(t, ekus, 1)
	assert.True(t, ekus[0].Equal(OIDReceiptSigning))
}

func TestIssueErrors(t *testing.T) {
	h := newHierarchy(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	_, err = h.ca.IssueCard(h.cardKey.Public(), "89014103211118510721", IssueOptions{})
	assert.ErrorIs(t, err, ErrCardID)
	_, err = h.ca.IssueCard(p384.Public(), testICCID, IssueOptions{})
	assert.ErrorIs(t, err, ErrKey)
	_, err = h.ca.IssueCard(nil, testICCID, IssueOptions{})
	assert.ErrorIs(t, err, ErrKey)
	_, err = h.ca.IssuePlatform(p384.Public(), "p", IssueOptions{})
	assert.ErrorIs(t, err, ErrKey)
	_, err = h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: -time.Hour})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{NotBefore: t0.Add(DefaultCAValidity + time.Hour)})
	assert.ErrorIs(t, err, ErrExpired, "a certificate may not start after its CA expires")

	_, err = NewRoot(newKey(t), CAOptions{})
	assert.ErrorIs(t, err, ErrInvalid, "CRL URL is required")
	_, err = NewRoot(newKey(t), CAOptions{CRLURL: "ldap://x"})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Validity: -time.Hour})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = h.ca.IssuePlatform(newKey(t).Public(), "", IssueOptions{})
	assert.ErrorIs(t, err, ErrInvalid, "the platform certificate needs a name")
	_, err = LoadCA(newKey(t), h.ca.DER(), nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
	assert.ErrorIs(t, err, ErrKey)
	_, err = LoadCA(h.cardKey, h.card, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
	assert.ErrorIs(t, err, ErrUsage)
}

// TestCAOptionsRefusals: NewRoot and NewIntermediate refuse (ErrInvalid)
// options out of range, each for its reason: no CRL URL, a negative
// validity (as IssueCard and IssuePlatform do), and revocations or a CRL
// number, even the first, which only LoadCA restores.
func TestCAOptionsRefusals(t *testing.T) {
	h := newHierarchy(t)
	const url = "http://pki.example/x.crl"
	for _, tt := range []struct {
		name   string
		opts   CAOptions
		reason string
	}{
		{"no CRL URL", CAOptions{}, "a CA needs a CRL URL"},
		{"negative validity", CAOptions{CRLURL: url, Validity: -time.Hour}, "negative validity"},
		{"CRL number 1", CAOptions{CRLURL: url, LastCRLNumber: 1}, "only LoadCA restores revocations and a CRL number"},
		{"one revocation", CAOptions{CRLURL: url, Revoked: []Revocation{{Serial: big.NewInt(1), Time: t0}}}, "only LoadCA restores revocations and a CRL number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := &Error{Err: ErrInvalid, Cert: -1, Reason: tt.reason}
			tt.opts.Now = fixed(t0)
			ca, err := NewRoot(newKey(t), tt.opts)
			assert.Nil(t, ca)
			assert.Equal(t, want, err, "NewRoot")
			ca, err = h.root.NewIntermediate(newKey(t), tt.opts)
			assert.Nil(t, ca)
			assert.Equal(t, want, err, "NewIntermediate")
		})
	}
	want := &Error{Err: ErrInvalid, Cert: -1, Reason: "negative validity"}
	_, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: -time.Second})
	assert.Equal(t, want, err)
	_, err = h.ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{Validity: -time.Second})
	assert.Equal(t, want, err)
}

// TestChainOfCANamedAsItsIssuer: a CA whose subject is its issuer's is not
// taken for a root: its chain holds its certificate and those above it,
// and a card it issues verifies with that chain.
func TestChainOfCANamedAsItsIssuer(t *testing.T) {
	name := pkix.Name{CommonName: "CA-SIM"}
	root, err := NewRoot(newKey(t), CAOptions{Subject: name, CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	upper, err := root.NewIntermediate(newKey(t), CAOptions{Subject: name, CRLURL: "http://pki.example/upper.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	lower, err := upper.NewIntermediate(newKey(t), CAOptions{Subject: name, CRLURL: "http://pki.example/lower.crl", Now: fixed(t0)})
	require.NoError(t, err)
	assert.Empty(t, root.Chain())
	assert.Equal(t, [][]byte{upper.DER()}, upper.Chain())
	assert.Equal(t, [][]byte{lower.DER(), upper.DER()}, lower.Chain())
	loaded, err := LoadCA(upper.Signer(), upper.DER(), nil, CAOptions{CRLURL: "http://pki.example/upper.crl"})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{upper.DER()}, loaded.Chain(), "no issuers given, yet not a root")
	loaded, err = LoadCA(root.Signer(), root.DER(), nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
	require.NoError(t, err)
	assert.Empty(t, loaded.Chain())

	assert.Len(t, verifyIssued(t, root, lower).Chain, 4)
}

// TestCASignedByItsKeyUnderAnotherName: a CA certificate signed by its
// own key but naming another CA as its issuer (a CA renamed, certified
// under its old name) is not a root: a root names itself. LoadCA takes it
// as a CA below a root, whose chain holds its certificate.
func TestCASignedByItsKeyUnderAnotherName(t *testing.T) {
	key := newKey(t)
	id, err := keyID(&key.PublicKey)
	require.NoError(t, err)
	old := caTemplateOf(func(c *x509.Certificate) { c.Subject, c.SubjectKeyId = pkix.Name{CommonName: "old name"}, id })
	renamed := caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.SubjectKeyId = pkix.Name{CommonName: "new name"}, id
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
		c.CRLDistributionPoints = []string{"http://pki.example/old.crl"}
	})
	der := createCert(t, renamed, old, key.Public(), key)
	c := mustParse(t, der)
	require.NoError(t, c.CheckSignatureFrom(c), "signed by its own key")
	require.Equal(t, id, c.AuthorityKeyId)
	ca, err := LoadCA(key, der, nil, CAOptions{CRLURL: "http://pki.example/new.crl", Now: fixed(t0)})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{der}, ca.Chain())
}

// verifyIssued has ca issue a card certificate and verifies it, presented
// with ca.Chain(), against root at t0 + 1h, with no CRL required and a
// depth limit that admits the chain built, root included.
func verifyIssued(t *testing.T, root, ca *CA) *VerifiedCard {
	t.Helper()
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	v, err := NewVerifier(VerifierOptions{
		Roots: [][]byte{root.DER()}, Now: fixed(t0.Add(time.Hour)), MaxDepth: max(len(ca.Chain())+2, 3),
		Revocation: RevocationBestEffort,
	})
	require.NoError(t, err)
	vc, err := v.VerifyCard(append([][]byte{card}, ca.Chain()...))
	require.NoError(t, err)
	return vc
}

// pointerSigner is a crypto.Signer of a pointer type whose methods read
// through the pointer, as an HSM's may: a nil *pointerSigner panics in
// them.
type pointerSigner struct{ key *ecdsa.PrivateKey }

func (s *pointerSigner) Public() crypto.PublicKey { return s.key.Public() }

func (s *pointerSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}

// TestNilKey: a CA without a key, or with a nil pointer of a signer type,
// crypto/ecdsa's or another, a nil ed25519.PrivateKey (a slice, whose
// Public panics), or an *ecdsa.PrivateKey without its private
// scalar (the card CA's public key alone), is ErrKey, not a panic.
func TestNilKey(t *testing.T) {
	h := newHierarchy(t)
	opts := CAOptions{CRLURL: "http://pki.example/x.crl"}
	caKey, ok := h.ca.Signer().(*ecdsa.PrivateKey)
	require.True(t, ok)
	_, err := LoadCA(&pointerSigner{caKey}, h.ca.DER(), nil, opts)
	require.NoError(t, err, "a pointerSigner that is not nil")
	for name, key := range map[string]crypto.Signer{
		"nil":                nil,
		"nil pointer":        (*ecdsa.PrivateKey)(nil),
		"nil *pointerSigner": (*pointerSigner)(nil),
		"nil ed25519 key":    ed25519.PrivateKey(nil),
		"public key only":    &ecdsa.PrivateKey{PublicKey: caKey.PublicKey},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewRoot(key, opts)
			assert.ErrorIs(t, err, ErrKey)
			_, err = h.root.NewIntermediate(key, opts)
			assert.ErrorIs(t, err, ErrKey)
			_, err = LoadCA(key, h.ca.DER(), nil, opts)
			assert.ErrorIs(t, err, ErrKey)
		})
	}
}

func TestValidityBoundByIssuer(t *testing.T) {
	h := newHierarchy(t)
	der, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: 100 * 365 * 24 * time.Hour})
	require.NoError(t, err)
	c, err := ParseCertificate(der)
	require.NoError(t, err)
	assert.Equal(t, h.ca.Certificate().NotAfter, c.NotAfter)
}

func TestLoadCA(t *testing.T) {
	h := newHierarchy(t)
	ca, err := LoadCA(h.ca.Signer(), h.ca.DER(), nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	der, err := ca.IssueCard(h.cardKey.Public(), testICCID2, IssueOptions{})
	require.NoError(t, err)
	c, err := ParseCertificate(der)
	require.NoError(t, err)
	require.NoError(t, c.CheckSignatureFrom(h.ca.Certificate()))
}

// TestLoadCACopiesItsInput: a caller that reuses the buffers it gave
// LoadCA, the certificate or the issuers, changes nothing in the CA: its
// certificate, its chain and what it issues stay as loaded.
func TestLoadCACopiesItsInput(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	upper, err := root.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "upper"}, CRLURL: "http://pki.example/upper.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	lower, err := upper.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/lower.crl", Now: fixed(t0)})
	require.NoError(t, err)
	want := lower.Chain()
	require.Len(t, want, 2)

	cert, issuers := lower.DER(), [][]byte{upper.DER()}
	ca, err := LoadCA(lower.Signer(), cert, issuers, CAOptions{CRLURL: "http://pki.example/lower.crl", Now: fixed(t0)})
	require.NoError(t, err)
	clear(cert)
	clear(issuers[0])
	issuers[0] = []byte("another certificate")

	assert.Equal(t, want, ca.Chain())
	assert.Equal(t, want[0], ca.DER())
	assert.Equal(t, want[0], ca.Certificate().Raw)
	assert.Equal(t, testICCID, verifyIssued(t, root, ca).CardID)
}

// TestCAReturnsCopies: a caller that changes what Chain or DER returned
// changes nothing in the CA.
func TestCAReturnsCopies(t *testing.T) {
	h := newHierarchy(t)
	want, der := h.ca.Chain(), h.ca.DER()
	chain := h.ca.Chain()
	clear(chain[0])
	clear(h.ca.DER())
	assert.Equal(t, want, h.ca.Chain())
	assert.Equal(t, der, h.ca.DER())
	assert.Equal(t, der, h.ca.Certificate().Raw)
}

func TestIssueCRL(t *testing.T) {
	h := newHierarchy(t)
	card, err := ParseCertificate(h.card)
	require.NoError(t, err)
	der, err := h.ca.IssueCRL([]Revocation{{Serial: card.SerialNumber, Time: t0.Add(-time.Hour), Reason: ReasonKeyCompromise}}, 7, t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(h.ca.Certificate()))
	assert.Equal(t, int64(7), crl.Number.Int64())
	assert.Equal(t, t0, crl.ThisUpdate)
	assert.Equal(t, t0.Add(time.Hour), crl.NextUpdate)
	require.Len(t, crl.RevokedCertificateEntries, 1)
	e := crl.RevokedCertificateEntries[0]
	assert.Equal(t, 0, e.SerialNumber.Cmp(card.SerialNumber))
	assert.Equal(t, ReasonKeyCompromise, e.ReasonCode)
	assert.Equal(t, t0.Add(-time.Hour), e.RevocationTime)

	_, err = h.ca.IssueCRL(nil, 0, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrInvalid, "CRL numbers start at 1")
	_, err = h.ca.IssueCRL(nil, 1, t0)
	assert.ErrorIs(t, err, ErrInvalid, "next update not in the future")
	_, err = h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(-1)}}, 1, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrInvalid, "negative serial")
	_, err = h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(1), Reason: 7}}, 1, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrInvalid, "reason 7")
	_, err = h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(1), Reason: 8}}, 1, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrInvalid, "removeFromCRL belongs to delta CRLs")
	_, err = h.ca.IssueCRL([]Revocation{
		{Serial: big.NewInt(2), Reason: 6}, {Serial: big.NewInt(3), Reason: 9}, {Serial: big.NewInt(4), Reason: 10},
	}, 1, t0.Add(time.Hour))
	assert.NoError(t, err, "certificateHold, privilegeWithdrawn, aACompromise")

	// A reason that no CRL can carry is refused at once, and the list
	// goes on issuing CRLs.
	for _, reason := range []int{-1, 7, 8, 11} {
		assert.ErrorIs(t, h.ca.Revoke(card.SerialNumber, reason), ErrInvalid, "reason %d", reason)
	}
	assert.Empty(t, h.ca.Revoked())

	// The in-memory list numbers its CRLs.
	require.NoError(t, h.ca.Revoke(card.SerialNumber, ReasonKeyCompromise))
	require.NoError(t, h.ca.Revoke(card.SerialNumber, ReasonSuperseded))
	assert.Len(t, h.ca.Revoked(), 1)
	for want := int64(1); want <= 2; want++ {
		der, err := h.ca.CRL(t0.Add(time.Hour))
		require.NoError(t, err)
		crl, err := x509.ParseRevocationList(der)
		require.NoError(t, err)
		assert.Equal(t, want, crl.Number.Int64())
		require.Len(t, crl.RevokedCertificateEntries, 1)
	}
}

// TestRevokeSerialWithin20Octets: Revoke, LoadCA and IssueCRL refuse
// (ErrInvalid) a serial number longer than the 20 octets of RFC 5280
// §4.1.2.2, which no CRL of the profile may carry, and take the largest
// of 20 octets.
func TestRevokeSerialWithin20Octets(t *testing.T) {
	top, over := maxSerial, overSerial
	h := newHierarchy(t)

	assert.ErrorIs(t, h.ca.Revoke(over, ReasonKeyCompromise), ErrInvalid)
	assert.Empty(t, h.ca.Revoked())
	_, err := h.ca.IssueCRL([]Revocation{{Serial: over}}, 1, t0.Add(time.Hour))
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], CAOptions{
		CRLURL: "http://pki.example/card.crl", Revoked: []Revocation{{Serial: over, Time: t0}},
	})
	assert.ErrorIs(t, err, ErrInvalid)

	require.NoError(t, h.ca.Revoke(top, ReasonKeyCompromise))
	der, err := h.ca.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.Len(t, crl.RevokedCertificateEntries, 1)
	assert.Zero(t, crl.RevokedCertificateEntries[0].SerialNumber.Cmp(top))
}

func TestPEM(t *testing.T) {
	h := newHierarchy(t)
	data := append(CertificatePEM(h.card), CertificatePEM(h.ca.DER())...)
	ders, err := ParseCertificatesPEM(append([]byte("chain\n"), data...))
	require.NoError(t, err)
	assert.Equal(t, h.chain(), ders)
	_, err = ParseCertificatesPEM([]byte("nothing"))
	assert.ErrorIs(t, err, ErrInvalid)

	crl, err := h.ca.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	back, err := ParseCRLPEM(append(CertificatePEM(h.card), CRLPEM(crl)...))
	require.NoError(t, err)
	assert.Equal(t, crl, back)
	_, err = ParseCRLPEM(data)
	assert.ErrorIs(t, err, ErrInvalid)

	_, err = PrivateKeyPEM(nil)
	assert.ErrorIs(t, err, ErrKey, "nil key")
	_, err = PrivateKeyPEM(&ecdsa.PrivateKey{})
	assert.ErrorIs(t, err, ErrKey, "key without a curve")
	// Without its private scalar, on which crypto/ecdsa panics: the card
	// key's public key alone, or its curve alone.
	for name, k := range map[string]*ecdsa.PrivateKey{
		"public key only": {PublicKey: h.cardKey.PublicKey},
		"curve only":      {PublicKey: ecdsa.PublicKey{Curve: h.cardKey.Curve}},
	} {
		var err error
		require.NotPanics(t, func() { _, err = PrivateKeyPEM(k) }, name)
		assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "no private key"}, err, name)
	}
	// Its private scalar without its point, on which crypto/ecdsa
	// panics too: the card key's scalar alone, with its curve.
	//lint:ignore SA1019 only the fields build a key without its point
	scalarOnly := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: h.cardKey.Curve}, D: h.cardKey.D}
	var scalarErr error
	require.NotPanics(t, func() { _, scalarErr = PrivateKeyPEM(scalarOnly) }, "private scalar only")
	assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "no public key point"}, scalarErr, "private scalar only")
	// A scalar wider than its curve's cannot be encoded.
	var pe *Error
	//lint:ignore SA1019 only the fields build a key with too wide a scalar
	_, err = PrivateKeyPEM(&ecdsa.PrivateKey{PublicKey: h.cardKey.PublicKey, D: new(big.Int).Lsh(big.NewInt(1), 300)})
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, ErrKey, pe.Err)
	assert.Equal(t, "key cannot be encoded", pe.Reason)
	assert.Error(t, pe.Cause)
	// Only a key that ParsePrivateKeyPEM reads back is written: one of
	// P-224 or P-521, or of a curve that is not P-256 itself although its
	// parameters are, is refused.
	params := *elliptic.P256().Params()
	//lint:ignore SA1019 only the fields build a key of an unnamed curve
	unnamed := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: &params, X: h.cardKey.X, Y: h.cardKey.Y}, D: h.cardKey.D}
	keys := map[string]*ecdsa.PrivateKey{"unnamed curve": unnamed}
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		keys[curve.Params().Name] = k
	}
	for name, k := range keys {
		written, err := PrivateKeyPEM(k)
		assert.Nil(t, written, name)
		assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "a key written must be ECDSA P-256 or P-384"}, err, name)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384PEM, err := PrivateKeyPEM(p384)
	require.NoError(t, err)
	p384Back, err := ParsePrivateKeyPEM(p384PEM)
	require.NoError(t, err)
	assert.True(t, p384.Equal(p384Back), "P-384 read back")
	kp, err := PrivateKeyPEM(h.cardKey)
	require.NoError(t, err)
	k, err := ParsePrivateKeyPEM(kp)
	require.NoError(t, err)
	assert.True(t, h.cardKey.Equal(k))
	_, err = ParsePrivateKeyPEM(data)
	assert.ErrorIs(t, err, ErrInvalid, "no key block")
	_, err = ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0}}))
	assert.ErrorIs(t, err, ErrKey, "malformed PKCS #8 key")
	_, err = ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0}}))
	assert.ErrorIs(t, err, ErrKey, "malformed SEC 1 key")
}

// TestParsePrivateKeyPEMCurves: ParsePrivateKeyPEM returns a key of a
// curve the profile allows a CA (P-256, P-384), in PKCS #8 and SEC 1, and
// refuses one of another curve (P-224, P-521) or another algorithm with
// ErrKey, as NewRoot would refuse it.
func TestParsePrivateKeyPEMCurves(t *testing.T) {
	pkcs8 := func(t *testing.T, k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1 := func(t *testing.T, k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	for _, tc := range []struct {
		curve elliptic.Curve
		ok    bool
	}{
		{elliptic.P224(), false},
		{elliptic.P256(), true},
		{elliptic.P384(), true},
		{elliptic.P521(), false},
	} {
		t.Run(tc.curve.Params().Name, func(t *testing.T) {
			k, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
			require.NoError(t, err)
			for form, data := range map[string][]byte{"PKCS #8": pkcs8(t, k), "SEC 1": sec1(t, k)} {
				got, err := ParsePrivateKeyPEM(data)
				if tc.ok {
					require.NoError(t, err, form)
					assert.True(t, k.Equal(got), form)
					_, err = NewRoot(got, CAOptions{CRLURL: "http://crl.example/root.crl", Now: func() time.Time { return t0 }})
					assert.NoError(t, err, form)
					continue
				}
				assert.Nil(t, got, form)
				assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "a CA key must be ECDSA P-256 or P-384"}, err, form)
			}
		})
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	got, err := ParsePrivateKeyPEM(pkcs8(t, edKey))
	assert.Nil(t, got)
	assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "not an ECDSA key"}, err, "Ed25519")
}

// TestLoadCARestoresCRLs: a CA loaded with the revocations and the CRL
// number of the CA it was stored from goes on numbering its CRLs where
// that one stopped, with the same entries, so that a verifier holding the
// last CRL takes the next one; a reloaded CA without them issues a CRL
// that verifier refuses.
func TestLoadCARestoresCRLs(t *testing.T) {
	h := newHierarchy(t)
	card, err := ParseCertificate(h.card)
	require.NoError(t, err)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	root, err := h.root.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(root))
	require.NoError(t, h.ca.Revoke(card.SerialNumber, ReasonKeyCompromise))
	for range 2 {
		der, err := h.ca.CRL(t0.Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, v.AddCRL(der))
	}
	assert.Equal(t, uint64(2), h.ca.LastCRLNumber())
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked)

	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)}
	fresh, err := LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], opts)
	require.NoError(t, err)
	der, err := fresh.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	assert.ErrorIs(t, v.AddCRL(der), ErrCRL, "a CRL numbered 1 again")

	opts.Revoked, opts.LastCRLNumber = h.ca.Revoked(), h.ca.LastCRLNumber()
	loaded, err := LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], opts)
	require.NoError(t, err)
	assert.Equal(t, h.ca.Revoked(), loaded.Revoked())
	der, err = loaded.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	assert.Equal(t, int64(3), crl.Number.Int64())
	require.Len(t, crl.RevokedCertificateEntries, 1)
	assert.Equal(t, 0, crl.RevokedCertificateEntries[0].SerialNumber.Cmp(card.SerialNumber))
	assert.Equal(t, ReasonKeyCompromise, crl.RevokedCertificateEntries[0].ReasonCode)
	require.NoError(t, v.AddCRL(der))
	_, err = v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrRevoked)

	// The list returned is a copy: changing it changes nothing in the CA.
	got := loaded.Revoked()
	got[0].Serial.SetInt64(1)
	assert.Equal(t, 0, loaded.Revoked()[0].Serial.Cmp(card.SerialNumber))

	// Entries no CRL could carry are refused; only LoadCA restores.
	bad := opts
	bad.Revoked = []Revocation{{Serial: big.NewInt(5), Reason: 7}}
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), nil, bad)
	assert.ErrorIs(t, err, ErrInvalid, "reason 7")
	bad.Revoked = []Revocation{{Serial: big.NewInt(0)}}
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), nil, bad)
	assert.ErrorIs(t, err, ErrInvalid, "serial 0")
	bad.Revoked = []Revocation{{}}
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), nil, bad)
	assert.ErrorIs(t, err, ErrInvalid, "no serial")
	_, err = NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", LastCRLNumber: 4})
	assert.ErrorIs(t, err, ErrInvalid, "only LoadCA restores a CRL number")
	_, err = h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Revoked: opts.Revoked})
	assert.ErrorIs(t, err, ErrInvalid, "only LoadCA restores revocations")
}

// TestCRLNumbersUsedUp: a CA loaded with the greatest CRL number issues
// no further CRL, and says why; its number stays.
func TestCRLNumbersUsedUp(t *testing.T) {
	h := newHierarchy(t)
	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), LastCRLNumber: math.MaxUint64 - 1}
	ca, err := LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], opts)
	require.NoError(t, err)
	der, err := ca.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	assert.Equal(t, new(big.Int).SetUint64(math.MaxUint64), crl.Number)
	assert.Equal(t, uint64(math.MaxUint64), ca.LastCRLNumber())

	_, err = ca.CRL(t0.Add(time.Hour))
	assert.Equal(t, &Error{Err: ErrInvalid, Cert: -1, Reason: "CRL numbers used up: the last CRL was numbered 18446744073709551615"}, err)
	assert.Equal(t, uint64(math.MaxUint64), ca.LastCRLNumber())
}

// TestNewIntermediateAfterIssuerExpires: an issuer that has expired by the
// time the new CA's certificate would start certifies no CA, as it
// certifies no card, instead of signing a certificate whose notAfter
// precedes its notBefore.
func TestNewIntermediateAfterIssuerExpires(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Validity: time.Hour})
	require.NoError(t, err)
	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0.Add(2 * time.Hour))}
	ca, err := root.NewIntermediate(newKey(t), opts)
	assert.ErrorIs(t, err, ErrExpired)
	assert.Nil(t, ca)
	opts.Now = fixed(t0.Add(time.Hour))
	_, err = root.NewIntermediate(newKey(t), opts)
	assert.ErrorIs(t, err, ErrExpired, "a certificate that would end the second it starts")

	opts.Now = fixed(t0.Add(30 * time.Minute))
	ca, err = root.NewIntermediate(newKey(t), opts)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(30*time.Minute), ca.Certificate().NotBefore)
	assert.Equal(t, root.Certificate().NotAfter, ca.Certificate().NotAfter)
}

// badKeySigner is a signer whose public key is pub.
type badKeySigner struct {
	*ecdsa.PrivateKey
	pub crypto.PublicKey
}

func (s badKeySigner) Public() crypto.PublicKey { return s.pub }

// TestIssueRefusesKeysWithoutPoint: an ECDSA key of the right curve
// without coordinates, or a nil one, is refused with ErrKey by every
// function that takes a key, instead of panicking.
func TestIssueRefusesKeysWithoutPoint(t *testing.T) {
	h := newHierarchy(t)
	k := newKey(t)
	for name, pub := range map[string]*ecdsa.PublicKey{
		"nil key":       nil,
		"no point":      {Curve: elliptic.P256()},
		"no X":          {Curve: elliptic.P256(), Y: k.Y},
		"no Y":          {Curve: elliptic.P256(), X: k.X},
		"P-384 no Y":    {Curve: elliptic.P384(), X: k.X},
		"off the curve": {Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(2)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.ca.IssueCard(pub, testICCID, IssueOptions{})
			assert.ErrorIs(t, err, ErrKey)
			_, err = h.ca.IssuePlatform(pub, "platform", IssueOptions{})
			assert.ErrorIs(t, err, ErrKey)
			signer := badKeySigner{PrivateKey: k, pub: pub}
			_, err = NewRoot(signer, CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0)})
			assert.ErrorIs(t, err, ErrKey)
			_, err = h.root.NewIntermediate(signer, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
			assert.ErrorIs(t, err, ErrKey)
			_, err = LoadCA(signer, h.ca.DER(), h.ca.Chain()[1:], CAOptions{CRLURL: "http://pki.example/card.crl"})
			assert.ErrorIs(t, err, ErrKey)
		})
	}
}

// failingSigner is a signer of the key it holds that fails every Sign
// with errSign.
type failingSigner struct{ *ecdsa.PrivateKey }

var errSign = errors.New("signer unavailable")

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, errSign }

// TestCASignerHoldsItsKey: NewRoot, NewIntermediate and LoadCA refuse
// (ErrKey) a signer, or a private key in memory, whose public key, here
// the card CA's, is not that of the key it signs with, before anything is
// signed or issued with it, and return the error of a signer that fails to
// sign, wrapped as it is.
func TestCASignerHoldsItsKey(t *testing.T) {
	h := newHierarchy(t)
	opts := CAOptions{CRLURL: "http://pki.example/x.crl", Now: fixed(t0)}
	caKey, ok := h.ca.Signer().(*ecdsa.PrivateKey)
	require.True(t, ok)
	// mismatched is another private key that reports the card CA's
	// public key as its own.
	mismatched := *newKey(t)
	mismatched.PublicKey = caKey.PublicKey
	for name, newCA := range map[string]func(key crypto.Signer) (*CA, error){
		"NewRoot":         func(key crypto.Signer) (*CA, error) { return NewRoot(key, opts) },
		"NewIntermediate": func(key crypto.Signer) (*CA, error) { return h.root.NewIntermediate(key, opts) },
		"LoadCA":          func(key crypto.Signer) (*CA, error) { return LoadCA(key, h.ca.DER(), h.ca.Chain()[1:], opts) },
	} {
		t.Run(name, func(t *testing.T) {
			for name, key := range map[string]crypto.Signer{
				"signer": badKeySigner{PrivateKey: newKey(t), pub: &caKey.PublicKey},
				"key":    &mismatched,
			} {
				ca, err := newCA(key)
				assert.Nil(t, ca, name)
				assert.Equal(t, &Error{Err: ErrKey, Cert: -1, Reason: "the signer's key does not match its public key"}, err, name)
			}

			ca, err := newCA(failingSigner{caKey})
			assert.Nil(t, ca)
			assert.ErrorIs(t, err, errSign)
			assert.EqualError(t, err, "pki: check the CA key: signer unavailable")

			ca, err = newCA(caKey)
			require.NoError(t, err, "the signer that holds its key")
			_, err = ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
			require.NoError(t, err)
		})
	}
}

// TestLoadCABelowRoot: LoadCA refuses (ErrUsage) a CA certificate that is
// not self-signed and that the check of a path refuses below the root
// whoever its issuer is: one without an authority key identifier, or
// whose serial number is not positive or is longer than 20 octets. A root
// needs neither.
func TestLoadCABelowRoot(t *testing.T) {
	for name, change := range map[string]func(c *x509.Certificate){
		"without authorityKeyIdentifier": func(c *x509.Certificate) { c.AuthorityKeyId = []byte{} },
		"serial of 21 octets":            func(c *x509.Certificate) { c.SerialNumber = overSerial },
		"serial zero":                    func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHierarchy(t)
			key := newKey(t)
			ca, err := LoadCA(key, issueRaw(t, h.root, caTemplateOf(change), key.Public()), nil, CAOptions{CRLURL: "http://pki.example/x.crl"})
			assert.ErrorIs(t, err, ErrUsage)
			assert.Nil(t, ca)
		})
	}
	t.Run("root of serial zero without authorityKeyIdentifier", func(t *testing.T) {
		key := newKey(t)
		tmpl := caTemplateOf(func(c *x509.Certificate) {
			c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(0), t0, t0.Add(time.Hour)
		})
		root := createCert(t, tmpl, tmpl, key.Public(), key)
		require.Empty(t, mustParse(t, root).AuthorityKeyId)
		_, err := LoadCA(key, root, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
		assert.NoError(t, err)
	})
}

// TestLoadCARefusesKeyOutsideProfile: LoadCA refuses a CA whose key is
// neither P-256 nor P-384, as NewRoot and NewIntermediate do.
func TestLoadCARefusesKeyOutsideProfile(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "P-521 CA"},
		NotBefore:             t0,
		NotAfter:              t0.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	require.NoError(t, err)
	_, err = NewRoot(k, CAOptions{CRLURL: "http://pki.example/root.crl"})
	require.ErrorIs(t, err, ErrKey)
	_, err = LoadCA(k, der, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
	assert.ErrorIs(t, err, ErrKey)
}

// counterReader is a deterministic reader that is not safe for concurrent
// use: each Read returns up to 32 octets of the SHA-256 of a counter,
// which it then increments.
type counterReader struct{ n uint64 }

func (r *counterReader) Read(p []byte) (int, error) {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, r.n))
	r.n++
	return copy(p, sum[:]), nil
}

// TestCAConcurrentUse: a CA whose Rand is not safe for concurrent use
// (a deterministic reader, as in reproducible tests) issues
// certificates, revocations and CRLs from several goroutines at once;
// under the race detector a reader read without the CA's lock fails the
// test.
func TestCAConcurrentUse(t *testing.T) {
	src := new(counterReader)
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Rand: src})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Rand: src})
	require.NoError(t, err)
	cardKey := newKey(t)

	const workers, each = 4, 8
	serials := make([][]*big.Int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				der, err := ca.IssueCard(cardKey.Public(), testICCID, IssueOptions{})
				if !assert.NoError(t, err) {
					return
				}
				c, err := ParseCertificate(der)
				if !assert.NoError(t, err) {
					return
				}
				serials[w] = append(serials[w], c.SerialNumber)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range serials {
		for _, s := range list {
			seen[s.String()] = true
		}
	}
	require.Len(t, seen, workers*each, "every serial number differs")

	// Revocations and CRLs, which share the CA's list, at once too.
	for w := range workers {
		wg.Go(func() {
			for _, s := range serials[w] {
				assert.NoError(t, ca.Revoke(s, ReasonSuperseded))
				_, err := ca.CRL(t0.Add(time.Hour))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Len(t, ca.Revoked(), workers*each)
	assert.Equal(t, uint64(workers*each), ca.LastCRLNumber())
}

// TestIssueCRLSerialTwice: a serial listed twice is written once, with
// its first entry's time and reason, as Revoke and LoadCA keep it.
func TestIssueCRLSerialTwice(t *testing.T) {
	h := newHierarchy(t)
	der, err := h.ca.IssueCRL([]Revocation{
		{Serial: big.NewInt(5), Time: t0.Add(-2 * time.Hour), Reason: ReasonKeyCompromise},
		{Serial: big.NewInt(6), Time: t0.Add(-time.Hour), Reason: ReasonSuperseded},
		{Serial: big.NewInt(5), Time: t0.Add(-time.Hour), Reason: ReasonCessationOfOperation},
	}, 1, t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	require.Len(t, crl.RevokedCertificateEntries, 2)
	first, second := crl.RevokedCertificateEntries[0], crl.RevokedCertificateEntries[1]
	assert.Equal(t, int64(5), first.SerialNumber.Int64())
	assert.Equal(t, ReasonKeyCompromise, first.ReasonCode)
	assert.Equal(t, t0.Add(-2*time.Hour), first.RevocationTime)
	assert.Equal(t, int64(6), second.SerialNumber.Int64())
	assert.Equal(t, ReasonSuperseded, second.ReasonCode)
}

// TestIssueCRLNextUpdateInSameSecond: a nextUpdate later than now but in
// the same second is refused, instead of giving a CRL whose nextUpdate,
// to the second as encoded, equals its thisUpdate.
func TestIssueCRLNextUpdateInSameSecond(t *testing.T) {
	h := newHierarchyAt(t, fixed(t0.Add(700*time.Millisecond)))
	_, err := h.ca.IssueCRL(nil, 1, t0.Add(800*time.Millisecond))
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = h.ca.CRL(t0.Add(999 * time.Millisecond))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Zero(t, h.ca.LastCRLNumber())

	der, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Second))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(der)
	require.NoError(t, err)
	assert.Equal(t, t0, crl.ThisUpdate)
	assert.Equal(t, t0.Add(time.Second), crl.NextUpdate)
}

// TestNewIntermediateStartsWithIssuer: a CA made on a clock behind its
// issuer's starts when its issuer does, not before.
func TestNewIntermediateStartsWithIssuer(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0.Add(time.Minute))})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Minute), ca.Certificate().NotBefore)
	ca, err = root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0.Add(time.Hour))})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Hour), ca.Certificate().NotBefore, "a clock ahead of the issuer's")
}

// randSigner is a signer that, as an HSM may, draws from the reader it is
// handed before it signs, and fails when that reader does.
type randSigner struct{ *ecdsa.PrivateKey }

func (s randSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, err := io.ReadFull(r, make([]byte, 8)); err != nil {
		return nil, err
	}
	return s.PrivateKey.Sign(r, digest, opts)
}

// failingReader fails every Read with errRand.
type failingReader struct{}

var errRand = errors.New("no randomness")

func (failingReader) Read([]byte) (int, error) { return 0, errRand }

// TestNewIntermediateDrawsFromIssuer: the serial number of a new CA's
// certificate and the randomness of its issuer's signature come from the
// issuer's Rand, as for every certificate the issuer signs; the new CA's
// own Rand, which fails here, serves only the certificates and CRLs that
// the new CA signs.
func TestNewIntermediateDrawsFromIssuer(t *testing.T) {
	src := new(counterReader)
	root, err := NewRoot(randSigner{newKey(t)}, CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Rand: src})
	require.NoError(t, err)
	want, err := randomSerial(&counterReader{n: src.n}) // the next serial the root draws
	require.NoError(t, err)

	ca, err := root.NewIntermediate(randSigner{newKey(t)}, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Rand: failingReader{}})
	require.NoError(t, err)
	assert.Equal(t, want, ca.Certificate().SerialNumber, "drawn from the root's Rand")

	_, err = ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	assert.ErrorIs(t, err, errRand, "the new CA's own Rand serves its certificates")
	_, err = ca.CRL(t0.Add(time.Hour))
	assert.ErrorIs(t, err, errRand, "and its CRLs")
}

// TestValidityUnderASecond: certificates carry their validity to the
// second, so that a validity under a second would give a certificate that
// ends the second it starts, which no CA issues: it is refused as out of
// range, and a validity of one second is not.
func TestValidityUnderASecond(t *testing.T) {
	h := newHierarchy(t)
	const short = 500 * time.Millisecond
	_, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Validity: short})
	assert.ErrorIs(t, err, ErrInvalid, "a root")
	_, err = h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Validity: short})
	assert.ErrorIs(t, err, ErrInvalid, "an intermediate")
	_, err = h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: short})
	assert.ErrorIs(t, err, ErrInvalid, "a card")
	_, err = h.ca.IssuePlatform(newKey(t).Public(), "casimpay platform", IssueOptions{Validity: short})
	assert.ErrorIs(t, err, ErrInvalid, "the platform")

	der, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: time.Second})
	require.NoError(t, err)
	c := mustParse(t, der)
	assert.Equal(t, c.NotBefore.Add(time.Second), c.NotAfter)
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Validity: time.Second})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Second), root.Certificate().NotAfter)
}

// TestValidityFromTheSecond: a certificate starts at its CA's clock to
// the second, and its validity counts from there: a clock 700 ms into a
// second and a validity of 1.5 s give a certificate of t0 to t0 + 1 s,
// for a root, a CA below it, a card and the platform.
func TestValidityFromTheSecond(t *testing.T) {
	const validity = 1500 * time.Millisecond
	now := fixed(t0.Add(700 * time.Millisecond))
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: now, Validity: validity})
	require.NoError(t, err)
	h := newHierarchyAt(t, now)
	ca, err := h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/x.crl", Now: now, Validity: validity})
	require.NoError(t, err)
	card, err := h.ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{Validity: validity})
	require.NoError(t, err)
	platform, err := h.ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{Validity: validity})
	require.NoError(t, err)
	asked, err := h.ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{NotBefore: t0.Add(time.Hour + 700*time.Millisecond), Validity: validity})
	require.NoError(t, err)
	for name, c := range map[string]*x509.Certificate{
		"root": root.Certificate(), "CA": ca.Certificate(), "card": mustParse(t, card), "platform": mustParse(t, platform),
	} {
		assert.Equal(t, t0, c.NotBefore, name)
		assert.Equal(t, t0.Add(time.Second), c.NotAfter, name)
	}
	c := mustParse(t, asked)
	assert.Equal(t, t0.Add(time.Hour), c.NotBefore, "a NotBefore asked for")
	assert.Equal(t, t0.Add(time.Hour+time.Second), c.NotAfter, "a NotBefore asked for")
}

// TestSignatureAlgorithm: every certificate a CA signs, its own as a root
// included, is signed with ecdsa-with-SHA256 (PROTOCOL.md §4.1), whatever
// the curve of the CA's key: crypto/x509 would pick ecdsa-with-SHA384 for
// a P-384 key.
func TestSignatureAlgorithm(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	root, err := NewRoot(p384, CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0)})
	require.NoError(t, err)
	caKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	ca, err := root.NewIntermediate(caKey, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	platform, err := ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{})
	require.NoError(t, err)
	for name, c := range map[string]*x509.Certificate{
		"root": root.Certificate(), "CA": ca.Certificate(), "card": mustParse(t, card), "platform": mustParse(t, platform),
	} {
		assert.Equal(t, x509.ECDSAWithSHA256, c.SignatureAlgorithm, name)
	}
}

// TestSerialNumberDrawnAgain: a draw of the random source that makes a
// serial number of zero (its first bit, the sign's, cleared) is drawn
// again: the serial number is positive, here 127 bits of ones.
func TestSerialNumberDrawnAgain(t *testing.T) {
	zero := append([]byte{0x80}, make([]byte, 15)...)
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Rand: io.MultiReader(bytes.NewReader(zero), allOnes{})})
	require.NoError(t, err)
	want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	assert.Equal(t, want, root.Certificate().SerialNumber)
}

// TestNewIntermediateWithinIssuersPathLength: NewIntermediate refuses
// (ErrUsage) a CA below an issuer whose chain has no room for it, counting
// the path length of every CA above the issuer, the root's included, and
// cuts a path length asked for to what the chain leaves; a chain whose
// root has no limit holds three CAs, and a card of the lowest verifies.
func TestNewIntermediateWithinIssuersPathLength(t *testing.T) {
	newRoot := func(t *testing.T, pathLen int) *CA {
		root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: pathLen})
		require.NoError(t, err)
		return root
	}
	sub := func(parent *CA, name string, pathLen int) (*CA, error) {
		return parent.NewIntermediate(newKey(t), CAOptions{
			Subject: pkix.Name{CommonName: name}, CRLURL: "http://pki.example/" + name + ".crl",
			Now: fixed(t0), MaxPathLen: pathLen,
		})
	}
	for _, asked := range []int{1, -1} {
		root := newRoot(t, 0) // the profile's path length of 1
		ca1, err := sub(root, "ca1", asked)
		require.NoError(t, err)
		assert.Equal(t, 0, ca1.Certificate().MaxPathLen, "cut to what the root leaves")
		assert.True(t, ca1.Certificate().MaxPathLenZero)
		ca2, err := sub(ca1, "ca2", 0)
		assert.ErrorIs(t, err, ErrUsage, "the root's path length holds no CA below ca1")
		assert.Nil(t, ca2)
	}

	root := newRoot(t, 2)
	ca1, err := sub(root, "ca1", -1)
	require.NoError(t, err)
	assert.Equal(t, 1, ca1.Certificate().MaxPathLen)
	ca2, err := sub(ca1, "ca2", 0)
	require.NoError(t, err)
	_, err = sub(ca2, "ca3", 0)
	assert.ErrorIs(t, err, ErrUsage)
	assert.Len(t, verifyIssued(t, root, ca2).Chain, 4)

	root = newRoot(t, -1)
	ca1, err = sub(root, "ca1", -1)
	require.NoError(t, err)
	ca2, err = sub(ca1, "ca2", -1)
	require.NoError(t, err)
	for _, ca := range []*CA{ca1, ca2} {
		assert.Equal(t, -1, ca.Certificate().MaxPathLen, "no limit asked, none left by the CAs above")
	}
	ca3, err := sub(ca2, "ca3", 0)
	require.NoError(t, err)
	assert.Equal(t, 0, ca3.Certificate().MaxPathLen, "the profile's path length of an intermediate")
	assert.True(t, ca3.Certificate().MaxPathLenZero)
	assert.Len(t, verifyIssued(t, root, ca3).Chain, 5, "three CAs under a root without a limit")
}

// TestNewIntermediateRefusalNamesPathLength: NewIntermediate's refusal
// (ErrUsage) of a CA that the path lengths above leave nothing to certify
// names the CA whose path length sets the limit as LoadCA names an issuer,
// by its position in the issuing CA's Chain(), from 0 for the issuing CA
// itself, or as the issuing CA, a root, which its Chain() leaves out.
func TestNewIntermediateRefusalNamesPathLength(t *testing.T) {
	opts := func(name string) CAOptions {
		return CAOptions{Subject: pkix.Name{CommonName: name}, CRLURL: "http://pki.example/" + name + ".crl", Now: fixed(t0)}
	}
	left := func(by string) error {
		return &Error{Err: ErrUsage, Cert: -1, Reason: "a CA below this one is left nothing to certify by the path length of " + by}
	}
	h := newHierarchy(t) // the card CA's own path length, 0, sets its room

	// mid, of path length 5, is left no room for a CA by upper's, 1.
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	upperOpts := opts("upper")
	upperOpts.MaxPathLen = 1
	upper, err := root.NewIntermediate(newKey(t), upperOpts)
	require.NoError(t, err)
	midKey := newKey(t)
	midDER := issueRaw(t, upper, caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen = pkix.Name{CommonName: "mid"}, 5
	}), midKey.Public())
	mid, err := LoadCA(midKey, midDER, upper.Chain(), opts("mid"))
	require.NoError(t, err)

	// far, of path length 9, is left no room for a CA by upper2's, 2, two
	// CAs above it, through mid2, of path length 5.
	upper2Opts := opts("upper2")
	upper2Opts.MaxPathLen = 2
	upper2, err := root.NewIntermediate(newKey(t), upper2Opts)
	require.NoError(t, err)
	mid2Key, farKey := newKey(t), newKey(t)
	mid2, err := LoadCA(mid2Key, issueRaw(t, upper2, caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen = pkix.Name{CommonName: "mid2"}, 5
	}), mid2Key.Public()), upper2.Chain(), opts("mid2"))
	require.NoError(t, err)
	far, err := LoadCA(farKey, issueRaw(t, mid2, caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen = pkix.Name{CommonName: "far"}, 9
	}), farKey.Public()), mid2.Chain(), opts("far"))
	require.NoError(t, err)

	// zeroRoot is a root of path length 0, made by another tool.
	zeroKey := newKey(t)
	zeroTmpl := caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen, c.MaxPathLenZero = pkix.Name{CommonName: "zero root"}, 0, true
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
	})
	zeroRoot, err := LoadCA(zeroKey, createCert(t, zeroTmpl, zeroTmpl, zeroKey.Public(), zeroKey), nil, opts("zero"))
	require.NoError(t, err)

	for _, tt := range []struct {
		name string
		ca   *CA
		want error
	}{
		{"its own", h.ca, left("issuer 0")},
		{"an issuer's", mid, left("issuer 1")},
		{"a farther issuer's", far, left("issuer 2")},
		{"a root's", zeroRoot, left("this CA, a root")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := tt.ca.NewIntermediate(newKey(t), opts("below"))
			assert.Nil(t, ca)
			assert.Equal(t, tt.want, err)
		})
	}
}

// TestLoadCAChecksIssuers: LoadCA refuses issuers that are not the
// certificate's chain up to its root, root excluded, nearest first: a CA
// of another hierarchy, a root, issuers out of order, one whose authority
// key identifier is not its issuer's subject key identifier, an issuer
// that is not a CA of the profile (ErrUsage), one that does not parse
// (ErrUntrusted), any issuer given with a root; it refuses a CA that the
// path lengths of its issuers leave nothing to certify, and a CA it loads
// knows those path lengths.
func TestLoadCAChecksIssuers(t *testing.T) {
	h, other := newHierarchy(t), newHierarchy(t)
	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)}
	_, err := LoadCA(h.ca.Signer(), h.ca.DER(), [][]byte{other.ca.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage, "a CA of another hierarchy")
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), [][]byte{h.root.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage, "the root, which is not given")
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), [][]byte{[]byte("not a certificate")}, opts)
	assert.ErrorIs(t, err, ErrUntrusted)
	_, err = LoadCA(h.root.Signer(), h.root.DER(), [][]byte{h.ca.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage, "a root has no issuers")

	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	upper, err := root.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "upper"}, CRLURL: "http://pki.example/upper.crl", Now: fixed(t0), MaxPathLen: 1})
	require.NoError(t, err)
	// mid asks for more than upper leaves, as another tool may issue it.
	midKey := newKey(t)
	mid := issueRaw(t, upper, caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen = pkix.Name{CommonName: "mid"}, 5
	}), midKey.Public())
	loaded, err := LoadCA(midKey, mid, [][]byte{upper.DER()}, CAOptions{CRLURL: "http://pki.example/mid.crl", Now: fixed(t0)})
	require.NoError(t, err)
	assert.Equal(t, testICCID, verifyIssued(t, root, loaded).CardID)
	_, err = loaded.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/x.crl", Now: fixed(t0)})
	assert.ErrorIs(t, err, ErrUsage, "upper's path length holds no CA below mid")

	lower, err := upper.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "lower"}, CRLURL: "http://pki.example/lower.crl", Now: fixed(t0)})
	require.NoError(t, err)
	_, err = LoadCA(lower.Signer(), lower.DER(), [][]byte{}, opts)
	require.NoError(t, err, "issuers left out are not known to be missing")
	_, err = LoadCA(lower.Signer(), lower.DER(), [][]byte{upper.DER(), upper.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage, "upper does not certify itself")
	_, err = LoadCA(lower.Signer(), lower.DER(), [][]byte{other.ca.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage)

	// wrongID is certified by upper but names another key as its issuer's.
	wrongKey := newKey(t)
	wrongID := issueRaw(t, upper, caTemplateOf(func(c *x509.Certificate) {
		c.AuthorityKeyId = []byte("another key identifier")
	}), wrongKey.Public())
	_, err = LoadCA(wrongKey, wrongID, [][]byte{upper.DER()}, opts)
	assert.ErrorIs(t, err, ErrUsage, "authority key identifier not the issuer's")

	// signOnly is a CA without cRLSign, which a verifier refuses, and
	// below a CA it certifies.
	signOnlyKey := newKey(t)
	signOnlyDER := issueRaw(t, root, caTemplateOf(func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageCertSign
	}), signOnlyKey.Public())
	signOnly := &CA{cert: mustParse(t, signOnlyDER), key: signOnlyKey, crlURL: "http://pki.example/sign.crl"}
	belowKey := newKey(t)
	below := issueRaw(t, signOnly, caTemplateOf(func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "below"}
	}), belowKey.Public())
	_, err = LoadCA(belowKey, below, nil, opts)
	require.NoError(t, err)
	_, err = LoadCA(belowKey, below, [][]byte{signOnlyDER}, opts)
	assert.ErrorIs(t, err, ErrUsage, "an issuer that is not a CA of the profile")

	// sub is certified by the card CA, whose path length is 0.
	subKey := newKey(t)
	sub := issueRaw(t, h.ca, caTemplateOf(func(*x509.Certificate) {}), subKey.Public())
	_, err = LoadCA(subKey, sub, h.ca.Chain(), opts)
	assert.ErrorIs(t, err, ErrUsage, "the card CA's path length leaves sub nothing to certify")
}

// TestLoadCARefusalNamesPosition: every refusal by LoadCA of its
// certificate or of one of its issuers names it, as "CA certificate" or
// as the issuer by its position in issuers, from 0 (here the second of
// them, after one it takes; of certificates not issued by the next, the
// farthest from the CA's), whatever the check it fails.
func TestLoadCARefusalNamesPosition(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	upper, err := root.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "upper"}, CRLURL: "http://pki.example/upper.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	mid, err := upper.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "mid"}, CRLURL: "http://pki.example/mid.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	lowerKey := newKey(t)
	lower, err := mid.NewIntermediate(lowerKey, CAOptions{Subject: pkix.Name{CommonName: "lower"}, CRLURL: "http://pki.example/lower.crl", Now: fixed(t0)})
	require.NoError(t, err)
	h, other := newHierarchy(t), newHierarchy(t)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)

	// below is a CA certified by ca, changed by change, whose key is key.
	below := func(ca *CA, key crypto.PublicKey, change func(c *x509.Certificate)) []byte {
		return issueRaw(t, ca, caTemplateOf(change), key)
	}
	altered := root.DER()
	altered[len(altered)-1] ^= 1
	noCRLSign := func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }
	unknown := func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }
	noAKI := func(c *x509.Certificate) { c.AuthorityKeyId = []byte{} }
	serialZero := func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) }
	noCRLDP := func(c *x509.Certificate) { c.CRLDistributionPoints = []string{} }
	enc := misencodedTimes["GeneralizedTime"]
	misencoded := fmt.Sprintf("%s in %d, where RFC 5280 has a UTCTime", enc.why, t0.Year())
	const alteredWhy = " names itself as its issuer, as a root, but its signature does not verify under its own key"
	const unknownWhy = " with critical extension 1.3.6.1.4.1.99999.1, which crypto/x509 does not handle"
	subKey := newKey(t)
	sub := below(h.ca, subKey.Public(), func(*x509.Certificate) {}) // below the card CA, of path length 0
	// one, of path length 1, certifies free, of none, which certifies
	// left: free's room is set by one's path length, left has none.
	one, err := root.NewIntermediate(newKey(t), CAOptions{Subject: pkix.Name{CommonName: "one"}, CRLURL: "http://pki.example/one.crl", Now: fixed(t0), MaxPathLen: 1})
	require.NoError(t, err)
	freeKey := newKey(t)
	free := below(one, freeKey.Public(), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "free"} })
	freeCA, err := LoadCA(freeKey, free, one.Chain(), CAOptions{CRLURL: "http://pki.example/free.crl", Now: fixed(t0)})
	require.NoError(t, err)
	leftKey := newKey(t)
	left := below(freeCA, leftKey.Public(), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "left"} })
	// wrongUpper is certified by upper but names another key as its
	// issuer's; wrongMid, below it, certifies wrongLow.
	wrongUpperKey, wrongMidKey, wrongLowKey := newKey(t), newKey(t), newKey(t)
	wrongUpper := below(upper, wrongUpperKey.Public(), func(c *x509.Certificate) {
		c.Subject, c.AuthorityKeyId = pkix.Name{CommonName: "wrong upper"}, []byte("another key identifier")
	})
	wrongMid := below(&CA{cert: mustParse(t, wrongUpper), key: wrongUpperKey, crlURL: "http://pki.example/wrong.crl"}, wrongMidKey.Public(),
		func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "wrong mid"} })
	wrongLow := below(&CA{cert: mustParse(t, wrongMid), key: wrongMidKey, crlURL: "http://pki.example/wrong.crl"}, wrongLowKey.Public(),
		func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "wrong low"} })
	// ownID, certified by mid, names its own key identifier as its
	// issuer's, under a name that is not its own.
	ownIDKey := newKey(t)
	ownID := below(mid, ownIDKey.Public(), func(c *x509.Certificate) {
		c.SubjectKeyId, c.AuthorityKeyId = []byte("own key identifier"), []byte("own key identifier")
	})

	for _, tt := range []struct {
		name    string
		key     crypto.Signer
		cert    []byte
		issuers [][]byte
		want    error
		reason  string
	}{
		{"issuer malformed", lowerKey, lower.DER(), [][]byte{mid.DER(), {1, 2, 3}}, ErrUntrusted, "issuer 1 is malformed"},
		{"issuer not a CA of the profile", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, newKey(t).Public(), noCRLSign)}, ErrUsage,
			"issuer 1 without a critical keyUsage with keyCertSign and cRLSign"},
		{"issuer key P-521", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, p521.Public(), func(*x509.Certificate) {})}, ErrUsage,
			"issuer 1 key is not ECDSA P-256 or P-384"},
		{"issuer self-signed", lowerKey, lower.DER(), [][]byte{mid.DER(), root.DER()}, ErrUsage, "issuer 1 is self-signed: a root, which the issuers exclude"},
		{"issuer altered root", lowerKey, lower.DER(), [][]byte{mid.DER(), altered}, ErrUntrusted, "issuer 1" + alteredWhy},
		{"issuer with unhandled critical extension", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, newKey(t).Public(), unknown)}, ErrUsage, "issuer 1" + unknownWhy},
		{"issuer time misencoded", lowerKey, lower.DER(), [][]byte{mid.DER(), validityTime(t, root.Signer(), upper.DER(), 0, enc.encode)}, ErrUsage,
			"issuer 1 notBefore " + misencoded},
		{"issuer without authority key identifier", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, newKey(t).Public(), noAKI)}, ErrUsage,
			"issuer 1, not self-signed, without an authority key identifier"},
		{"issuer serial zero", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, newKey(t).Public(), serialZero)}, ErrUsage,
			"issuer 1 serial number not positive or longer than 20 octets"},
		{"issuer without CRL distribution points", lowerKey, lower.DER(), [][]byte{mid.DER(), below(root, newKey(t).Public(), noCRLDP)}, ErrUsage,
			"issuer 1 " + crlDPWhy},
		{"issuer not issued by the next", lowerKey, lower.DER(), [][]byte{upper.DER(), upper.DER(), other.ca.DER()}, ErrUsage, "issuer 1 is not issued by issuer 2"},
		{"issuer naming another key as the next's", wrongLowKey, wrongLow, [][]byte{wrongMid, wrongUpper, upper.DER()}, ErrUsage, "issuer 1 is not issued by issuer 2"},
		{"issuer left nothing to certify by the next", lowerKey, lower.DER(), [][]byte{mid.DER(), sub, h.ca.DER()}, ErrUsage,
			"issuer 1 is left nothing to certify by the path length of issuer 2"},
		{"issuer left nothing to certify by one farther", lowerKey, lower.DER(), [][]byte{left, free, one.DER()}, ErrUsage,
			"issuer 0 is left nothing to certify by the path length of issuer 2"},

		{"CA certificate malformed", lowerKey, []byte{1, 2, 3}, [][]byte{mid.DER(), upper.DER()}, ErrUntrusted, "CA certificate is malformed"},
		{"CA certificate not a CA of the profile", lowerKey, below(mid, lowerKey.Public(), noCRLSign), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate without a critical keyUsage with keyCertSign and cRLSign"},
		{"CA certificate with unhandled critical extension", lowerKey, below(mid, lowerKey.Public(), unknown), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate" + unknownWhy},
		{"CA certificate time misencoded", lowerKey, validityTime(t, mid.Signer(), lower.DER(), 0, enc.encode), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate notBefore " + misencoded},
		{"CA certificate altered root", root.Signer(), altered, nil, ErrUntrusted, "CA certificate" + alteredWhy},
		{"CA certificate without authority key identifier", lowerKey, below(mid, lowerKey.Public(), noAKI), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate, not self-signed, without an authority key identifier"},
		{"CA certificate serial zero", lowerKey, below(mid, lowerKey.Public(), serialZero), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate serial number not positive or longer than 20 octets"},
		{"CA certificate without CRL distribution points", lowerKey, below(mid, lowerKey.Public(), noCRLDP), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate " + crlDPWhy},
		{"CA certificate a root with issuers", root.Signer(), root.DER(), [][]byte{mid.DER(), upper.DER()}, ErrUsage,
			"CA certificate is self-signed: a root, which has no issuers"},
		{"CA certificate not issued by the nearest", lowerKey, lower.DER(), [][]byte{upper.DER()}, ErrUsage, "CA certificate is not issued by issuer 0"},
		{"CA certificate naming its own key as its issuer's", ownIDKey, ownID, [][]byte{mid.DER(), upper.DER()}, ErrUsage, "CA certificate is not issued by issuer 0"},
		{"CA certificate left nothing to certify", subKey, sub, h.ca.Chain(), ErrUsage,
			"CA certificate is left nothing to certify by the path length of issuer 0"},
		{"CA certificate left nothing to certify by an issuer farther", leftKey, left, [][]byte{free, one.DER()}, ErrUsage,
			"CA certificate is left nothing to certify by the path length of issuer 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := LoadCA(tt.key, tt.cert, tt.issuers, CAOptions{CRLURL: "http://pki.example/x.crl", Now: fixed(t0)})
			assert.Nil(t, ca)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			// The cause, crypto/x509's, is not the check's own.
			assert.Equal(t, &Error{Err: tt.want, Cert: -1, Reason: tt.reason, Cause: pe.Cause}, err)
			assert.Equal(t, tt.want == ErrUntrusted, pe.Cause != nil, "a cause only for a certificate crypto/x509 refuses")
		})
	}
	_, err = LoadCA(lowerKey, lower.DER(), [][]byte{mid.DER(), upper.DER()}, CAOptions{CRLURL: "http://pki.example/x.crl", Now: fixed(t0)})
	require.NoError(t, err, "the chain that the refusals change")
}

// TestIssueStartsWithCA: a card or platform certificate starts no
// earlier than its CA's, as a CA starts no earlier than its issuer's:
// a NotBefore asked for before the CA's, or the CA's clock behind the
// clock that issued the CA, is raised to the CA's NotBefore, the end
// staying where the validity asked for puts it; a validity that ends
// before the CA starts is refused (ErrInvalid).
func TestIssueStartsWithCA(t *testing.T) {
	h := newHierarchy(t)
	caStart := h.ca.Certificate().NotBefore
	issue := map[string]func(ca *CA, opts IssueOptions) ([]byte, error){
		"card": func(ca *CA, opts IssueOptions) ([]byte, error) {
			return ca.IssueCard(h.cardKey.Public(), testICCID, opts)
		},
		"platform": func(ca *CA, opts IssueOptions) ([]byte, error) {
			return ca.IssuePlatform(newKey(t).Public(), "platform", opts)
		},
	}
	for name, issue := range issue {
		t.Run(name, func(t *testing.T) {
			der, err := issue(h.ca, IssueOptions{NotBefore: caStart.Add(-time.Hour), Validity: 2 * time.Hour})
			require.NoError(t, err)
			c := mustParse(t, der)
			assert.Equal(t, caStart, c.NotBefore, "raised to the CA's")
			assert.Equal(t, caStart.Add(time.Hour), c.NotAfter, "where the validity asked for ends")

			for _, validity := range []time.Duration{time.Hour, time.Minute} {
				_, err = issue(h.ca, IssueOptions{NotBefore: caStart.Add(-time.Hour), Validity: validity})
				requireRefusal(t, err, ErrInvalid, -1)
			}

			// A CA whose clock is behind the one that issued it.
			root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0.Add(time.Minute))})
			require.NoError(t, err)
			ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
			require.NoError(t, err)
			require.Equal(t, t0.Add(time.Minute), ca.Certificate().NotBefore)
			der, err = issue(ca, IssueOptions{})
			require.NoError(t, err)
			assert.Equal(t, t0.Add(time.Minute), mustParse(t, der).NotBefore, "a clock behind the CA's start")
		})
	}
}

// TestAlteredRoot: a root whose bytes were altered after it was signed,
// so that its own key no longer verifies it though it still names itself
// as its issuer, by name and key identifier, is refused as ErrUntrusted
// for its signature, by LoadCA and by NewVerifier among the
// intermediates, not as a CA below a root without CRL distribution
// points.
func TestAlteredRoot(t *testing.T) {
	h := newHierarchy(t)
	der := h.root.DER()
	der[len(der)-1] ^= 1 // the signature's last octet
	c := mustParse(t, der)
	require.Error(t, c.CheckSignatureFrom(c))

	_, err := LoadCA(h.root.Signer(), der, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
	requireRefusal(t, err, ErrUntrusted, -1)
	assert.Contains(t, err.Error(), "signature does not verify")

	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{h.ca.DER(), der}})
	requireRefusal(t, err, ErrUntrusted, -1)
	assert.Contains(t, err.Error(), "signature does not verify")
}

// TestSubjectNotEncodable: a subject that no certificate can carry (a
// name that is not valid UTF-8) is refused with ErrInvalid by IssuePlatform,
// NewRoot and NewIntermediate, as an argument out of range, before
// anything is signed.
func TestSubjectNotEncodable(t *testing.T) {
	h := newHierarchy(t)
	const bad = "casimpay \xff platform"
	_, err := h.ca.IssuePlatform(newKey(t).Public(), bad, IssueOptions{})
	requireRefusal(t, err, ErrInvalid, -1)
	subject := pkix.Name{CommonName: bad}
	_, err = NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Subject: subject})
	requireRefusal(t, err, ErrInvalid, -1)
	_, err = h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Subject: subject})
	requireRefusal(t, err, ErrInvalid, -1)
}

// TestCRLTimesEncodable: a revocation time or a next update that no CRL
// can carry (a year after 9999 or before 0, which crypto/x509 cannot
// encode) is refused with ErrInvalid by Revoke's path through LoadCA and
// by IssueCRL, so that such a restored revocation cannot stop every later
// CRL of the CA, and the CA's CRLs go on.
func TestCRLTimesEncodable(t *testing.T) {
	h := newHierarchy(t)
	for name, at := range map[string]time.Time{
		"year 10000": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"year -1":    time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(name, func(t *testing.T) {
			r := Revocation{Serial: big.NewInt(5), Time: at, Reason: ReasonKeyCompromise}
			ca, err := LoadCA(h.ca.Signer(), h.ca.DER(), nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Revoked: []Revocation{r}})
			requireRefusal(t, err, ErrInvalid, -1)
			assert.Nil(t, ca)

			_, err = h.ca.IssueCRL([]Revocation{r}, 1, t0.Add(time.Hour))
			requireRefusal(t, err, ErrInvalid, -1)
			if at.After(t0) {
				_, err = h.ca.IssueCRL(nil, 1, at)
				requireRefusal(t, err, ErrInvalid, -1)
			}
			_, err = h.ca.CRL(t0.Add(time.Hour))
			require.NoError(t, err)
		})
	}
}

// TestLoadCAUnhandledCriticalExtension: a CA certificate, a root or one
// below it, given to LoadCA or among its issuers, that carries a critical
// extension crypto/x509 does not handle is refused (ErrUsage): no chain
// verifies through it, so that the CA would issue nothing a Verifier
// accepts.
func TestLoadCAUnhandledCriticalExtension(t *testing.T) {
	h := newHierarchy(t)
	key := newKey(t)
	below := issueRaw(t, h.root, caTemplateOf(func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }), key.Public())
	require.NotEmpty(t, mustParse(t, below).UnhandledCriticalExtensions)
	_, err := LoadCA(key, below, nil, CAOptions{CRLURL: "http://pki.example/x.crl"})
	requireRefusal(t, err, ErrUsage, -1)
	assert.Contains(t, err.Error(), "critical extension")

	rootKey := newKey(t)
	tmpl := caTemplateOf(func(c *x509.Certificate) {
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
		c.ExtraExtensions = []pkix.Extension{unknownCritical}
	})
	_, err = LoadCA(rootKey, createCert(t, tmpl, tmpl, rootKey.Public(), rootKey), nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
	requireRefusal(t, err, ErrUsage, -1)

	subKey := newKey(t)
	subCA := &CA{cert: mustParse(t, below), key: key, crlURL: "http://pki.example/x.crl"}
	sub := issueRaw(t, subCA, caTemplateOf(func(c *x509.Certificate) {}), subKey.Public())
	_, err = LoadCA(subKey, sub, [][]byte{below}, CAOptions{CRLURL: "http://pki.example/sub.crl"})
	requireRefusal(t, err, ErrUsage, -1)
}

// TestCAEncodesTimesAsRFC5280: the certificates and CRLs of a CA encode
// every time of a year through 2049 (in UTC) as a UTCTime and every time
// from 2050 on as a GeneralizedTime (RFC 5280 §4.1.2.5, §5.1.2.4 to
// §5.1.2.6), whatever the time zone of the clock or of the times asked
// for: 2049-12-31 23:30 UTC, which is 2050 in a zone an hour ahead, is a
// UTCTime.
func TestCAEncodesTimesAsRFC5280(t *testing.T) {
	ahead := time.FixedZone("UTC+1", 3600)
	last := time.Date(2050, 1, 1, 0, 30, 0, 0, ahead) // 2049-12-31 23:30 UTC
	first := time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	utc := func(at time.Time) []byte { return append([]byte{0x17, 0x0d}, at.UTC().Format("060102150405Z")...) }
	generalized := func(at time.Time) []byte { return append([]byte{0x18, 0x0f}, at.UTC().Format("20060102150405Z")...) }
	requireTimes := func(t *testing.T, der []byte, utcs, generalizeds []time.Time) {
		t.Helper()
		for _, at := range utcs {
			assert.True(t, bytes.Contains(der, utc(at)), "%v as a UTCTime", at.UTC())
			assert.False(t, bytes.Contains(der, generalized(at)), "%v as a GeneralizedTime", at.UTC())
		}
		for _, at := range generalizeds {
			assert.True(t, bytes.Contains(der, generalized(at)), "%v as a GeneralizedTime", at.UTC())
		}
	}

	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(last), Validity: time.Hour})
	require.NoError(t, err)
	requireTimes(t, root.DER(), []time.Time{last}, []time.Time{last.Add(time.Hour)})
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(last.Add(-time.Hour)), Validity: 90 * time.Minute})
	require.NoError(t, err)
	requireTimes(t, ca.DER(), []time.Time{last}, []time.Time{first}) // started with the root, ended 90 minutes after the time asked

	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{NotBefore: last, Validity: 30 * time.Minute})
	require.NoError(t, err)
	requireTimes(t, card, []time.Time{last}, []time.Time{first})
	platform, err := ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{NotBefore: last.Add(-time.Minute), Validity: 2 * time.Minute})
	require.NoError(t, err)
	requireTimes(t, platform, []time.Time{last, last.Add(time.Minute)}, nil) // started with the CA

	crl, err := ca.IssueCRL([]Revocation{
		{Serial: big.NewInt(1), Time: last, Reason: ReasonKeyCompromise},
		{Serial: big.NewInt(2), Time: time.Date(1949, 12, 31, 0, 0, 0, 0, ahead)},
		{Serial: big.NewInt(3), Time: time.Date(1950, 1, 1, 0, 30, 0, 0, ahead)}, // 1949 in UTC
	}, 1, first)
	require.NoError(t, err)
	requireTimes(t, crl, []time.Time{last, last.Add(-time.Hour)},
		[]time.Time{first, time.Date(1949, 12, 31, 0, 0, 0, 0, ahead), time.Date(1950, 1, 1, 0, 30, 0, 0, ahead)})
}

// TestRootValidityEncodable: NewRoot refuses (ErrInvalid) a validity
// that no certificate can carry, from a clock before the year 0 or ending
// after the year 9999, and takes one that ends in the last second of
// 9999.
func TestRootValidityEncodable(t *testing.T) {
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		now      time.Time
		validity time.Duration
		want     error
	}{
		{"ends in 10000", time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC), 0, ErrInvalid},
		{"ends a second after 9999", last, time.Second, ErrInvalid},
		{"starts in -1", time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC), time.Hour, ErrInvalid},
		{"starts in -1, ends in 0", time.Date(-1, 12, 31, 23, 30, 0, 0, time.UTC), time.Hour, ErrInvalid},
		{"ends in the last second of 9999", last.Add(-time.Second), time.Second, nil},
		{"starts in the year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(tt.now), Validity: tt.validity})
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.now.Add(tt.validity), root.Certificate().NotAfter)
				return
			}
			assert.Nil(t, root)
			assert.Equal(t, &Error{Err: ErrInvalid, Cert: -1, Reason: "validity outside the years 0 to 9999 that a certificate can carry"}, err)
		})
	}
}

// TestCRLURLOutOfRange: NewRoot, NewIntermediate and LoadCA refuse
// (ErrInvalid) a CRL URL that no certificate's CRL distribution point
// can carry for a relying party to fetch: not http or https, without a
// host, or with a character that a URI does not hold (RFC 3986: not
// ASCII, a space), which would be written, as it is, into an IA5String;
// they take one with a host, a port and a percent-encoded path.
func TestCRLURLOutOfRange(t *testing.T) {
	h := newHierarchy(t)
	for _, tt := range []struct {
		url    string
		reason string
	}{
		{"ldap://pki.example/card.crl", "is not an http or https URL with a host"},
		{"http://", "is not an http or https URL with a host"},
		{"http:pki.example/card.crl", "is not an http or https URL with a host"},
		{"https:///card.crl", "is not an http or https URL with a host"},
		{"http://pki.example/%zz.crl", "is not an http or https URL with a host"},
		{"http://pki.example/\u00e9.crl", "has a character other than printable ASCII, which a URI does not hold"},
		{"http://pki.example/card crl", "has a character other than printable ASCII, which a URI does not hold"},
		{"http://pki.example/card.crl\x7f", "has a character other than printable ASCII, which a URI does not hold"},
		{"http://pki.example/card.crl", ""},
		{"https://[2001:db8::1]:8443/%C3%A9.crl", ""},
	} {
		t.Run(tt.url, func(t *testing.T) {
			opts := CAOptions{CRLURL: tt.url, Now: fixed(t0)}
			var want error
			if tt.reason != "" {
				want = &Error{Err: ErrInvalid, Cert: -1, Reason: fmt.Sprintf("CRL URL %q %s", tt.url, tt.reason)}
			}
			root, err := NewRoot(newKey(t), opts)
			assert.Equal(t, want, err)
			ca, err := h.root.NewIntermediate(newKey(t), opts)
			assert.Equal(t, want, err)
			_, err = LoadCA(h.ca.Signer(), h.ca.DER(), nil, opts)
			assert.Equal(t, want, err)
			if want == nil {
				require.NotNil(t, root)
				card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
				require.NoError(t, err)
				assert.Equal(t, []string{tt.url}, mustParse(t, card).CRLDistributionPoints)
			}
		})
	}
}

// TestCRLThisUpdateEncodable: IssueCRL and CRL refuse (ErrInvalid) to
// issue a CRL when the CA's clock, its this update, is before the year 0,
// which no CRL can carry, and the number of the next CRL stays.
func TestCRLThisUpdateEncodable(t *testing.T) {
	h := newHierarchy(t)
	ca, err := LoadCA(h.ca.Signer(), h.ca.DER(), nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC))})
	require.NoError(t, err)
	want := &Error{Err: ErrInvalid, Cert: -1, Reason: "this update, the CA's clock, outside the years 0 to 9999 that a CRL can carry"}
	_, err = ca.IssueCRL(nil, 1, t0)
	assert.Equal(t, want, err)
	_, err = ca.CRL(t0)
	assert.Equal(t, want, err)
	assert.Zero(t, ca.LastCRLNumber())
}

// TestIssueCertificateSize: a CA issues no certificate longer than
// MaxCertificateSize, which a verifier refuses: a subject, platform name
// or CRL URL that would make one is out of range (ErrInvalid), and
// nothing is issued.
func TestIssueCertificateSize(t *testing.T) {
	h := newHierarchy(t)
	long := strings.Repeat("a", MaxCertificateSize)
	opts := func(subject string, crlURL string) CAOptions {
		return CAOptions{Subject: pkix.Name{CommonName: subject}, CRLURL: crlURL, Now: fixed(t0)}
	}
	root, err := NewRoot(newKey(t), opts(long, "http://pki.example/root.crl"))
	requireCertificateSize(t, err, "root subject")
	assert.Nil(t, root)
	ca, err := h.root.NewIntermediate(newKey(t), opts(long, "http://pki.example/ca.crl"))
	requireCertificateSize(t, err, "CA subject")
	assert.Nil(t, ca)
	platform, err := h.ca.IssuePlatform(newKey(t).Public(), long, IssueOptions{})
	requireCertificateSize(t, err, "platform name")
	assert.Nil(t, platform)

	// A CA's CRL URL is in the certificates it issues, not in its own.
	ca, err = h.root.NewIntermediate(newKey(t), opts("", "http://pki.example/"+long))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(ca.DER()), MaxCertificateSize)
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	requireCertificateSize(t, err, "CRL URL")
	assert.Nil(t, card)
}

// requireCertificateSize requires err to be the refusal of a certificate
// longer than MaxCertificateSize by the CA that would issue it.
func requireCertificateSize(t *testing.T, err error, name string) {
	t.Helper()
	require.ErrorIs(t, err, ErrInvalid, name)
	assert.ErrorIs(t, err, errCertificateSize, name)
}

// countedReader is crypto/rand.Reader counting the octets read from it.
type countedReader struct{ n atomic.Int64 }

func (r *countedReader) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestCheckIssueCard: CheckIssueCard returns the error IssueCard returns
// for the same ICCID and options with a P-256 key (nil where IssueCard
// issues), reading nothing of the CA's random source.
func TestCheckIssueCard(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0)
	src := new(countedReader)
	ca, err := h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/check.crl", Now: clk.now, Rand: src, Validity: 24 * time.Hour})
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		ca    *CA
		now   time.Time
		iccid string
		opts  IssueOptions
		want  error // nil: issued
	}{
		{"issued", ca, t0, testICCID, IssueOptions{}, nil},
		{"nil CA", nil, t0, testICCID, IssueOptions{}, ErrInvalid},
		{"zero CA", new(CA), t0, testICCID, IssueOptions{}, ErrInvalid},
		{"ICCID", ca, t0, "89014103211118510721", IssueOptions{}, ErrCardID},
		{"negative validity", ca, t0, testICCID, IssueOptions{Validity: -time.Hour}, ErrInvalid},
		{"validity under a second", ca, t0, testICCID, IssueOptions{Validity: time.Millisecond}, ErrInvalid},
		{"ends before the CA starts", ca, t0, testICCID, IssueOptions{NotBefore: t0.Add(-48 * time.Hour), Validity: time.Hour}, ErrInvalid},
		{"starts after the CA ends", ca, t0, testICCID, IssueOptions{NotBefore: t0.Add(48 * time.Hour)}, ErrExpired},
		{"CA expired", ca, t0.Add(48 * time.Hour), testICCID, IssueOptions{}, ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.set(tc.now)
			read := src.n.Load()
			checked := tc.ca.CheckIssueCard(tc.iccid, tc.opts)
			assert.Equal(t, read, src.n.Load(), "octets read from the CA's random source")
			der, err := tc.ca.IssueCard(newKey(t).Public(), tc.iccid, tc.opts)
			if tc.want == nil {
				require.NoError(t, checked)
				require.NoError(t, err)
				assert.NotEmpty(t, der)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, err, checked)
			assert.Nil(t, der)
		})
	}
}

// TestCheckIssueCardCertificateSize: CheckIssueCard and IssueCard refuse,
// with the same error, a CA whose names and CRL URL could make a card
// certificate longer than MaxCertificateSize, whatever the key, the serial
// number and the signature, and only such a CA: under the longest CRL URL
// that they take, every card certificate is issued, and one of the longest
// serial number and signature has MaxCertificateSize octets. For a CA key
// of either curve, whose signatures differ in length.
func TestCheckIssueCardCertificateSize(t *testing.T) {
	h := newHierarchy(t)
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(curve, rand.Reader)
			require.NoError(t, err)
			// withURL is a card-issuing CA whose CRL URL is n octets
			// longer than the shortest, drawing serial numbers of all ones.
			withURL := func(n int) *CA {
				ca, err := h.root.NewIntermediate(key, CAOptions{
					CRLURL: "http://pki.example/" + strings.Repeat("a", n), Now: fixed(t0), Rand: allOnes{},
				})
				require.NoError(t, err, "its own certificate does not carry its CRL URL")
				return ca
			}
			require.NoError(t, withURL(0).CheckIssueCard(testICCID, IssueOptions{}))
			err = withURL(MaxCertificateSize).CheckIssueCard(testICCID, IssueOptions{})
			requireCertificateSize(t, err, "CRL URL")
			// The longest URL taken, between the two.
			lo, hi := 0, MaxCertificateSize
			for hi-lo > 1 {
				mid := (lo + hi) / 2
				if withURL(mid).CheckIssueCard(testICCID, IssueOptions{}) == nil {
					lo = mid
				} else {
					hi = mid
				}
			}

			over := withURL(hi)
			checked := over.CheckIssueCard(testICCID, IssueOptions{})
			requireCertificateSize(t, checked, "an octet over")
			// Counted with the longest serial number, not one drawn (one
			// in 128 is an octet shorter).
			for range 2000 {
				require.Equal(t, checked, over.CheckIssueCard(testICCID, IssueOptions{}))
			}
			for range 8 {
				card, err := over.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
				assert.Equal(t, checked, err, "IssueCard refuses as CheckIssueCard, whatever the key")
				assert.Nil(t, card)
			}

			// A signature of the longest encoding, of two integers of a
			// leading zero octet, comes once in four: 128 of them hold one
			// but once in 10^16.
			ca := withURL(lo)
			longest := 0
			for range 128 {
				card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
				require.NoError(t, err)
				require.LessOrEqual(t, len(card), MaxCertificateSize)
				longest = max(longest, len(card))
			}
			assert.Equal(t, MaxCertificateSize, longest, "the longest signature makes a certificate of the limit")
		})
	}
}

// TestLoadCAManyRevocations: LoadCA restores a long list of revocations,
// and Revoke adds to it, keeping every serial once, with its first entry
// (BenchmarkLoadCARevocations measures the time, linear in the list's
// length).
func TestLoadCAManyRevocations(t *testing.T) {
	const n = 100_000
	h := newHierarchy(t)
	revoked := make([]Revocation, n+1)
	for i := range n {
		revoked[i] = Revocation{Serial: big.NewInt(int64(i) + 1), Time: t0, Reason: ReasonSuperseded}
	}
	revoked[n] = Revocation{Serial: big.NewInt(7), Time: t0.Add(time.Hour), Reason: ReasonKeyCompromise}
	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Revoked: revoked}
	ca, err := LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], opts)
	require.NoError(t, err)
	require.NoError(t, ca.Revoke(big.NewInt(9), ReasonKeyCompromise), "a serial listed already")
	require.NoError(t, ca.Revoke(big.NewInt(n+1), ReasonKeyCompromise))
	got := ca.Revoked()
	require.Len(t, got, n+1, "every serial once")
	assert.Equal(t, Revocation{Serial: big.NewInt(7), Time: t0, Reason: ReasonSuperseded}, got[6], "the first entry of a serial kept")
	assert.Equal(t, ReasonSuperseded, got[8].Reason, "the first entry of a serial kept")
	assert.Equal(t, 0, got[n].Serial.Cmp(big.NewInt(n+1)))
}

// BenchmarkLoadCARevocations: LoadCA of a CA that has revoked n
// certificates; the time per revocation stays flat as n grows.
func BenchmarkLoadCARevocations(b *testing.B) {
	h := newHierarchy(b)
	for _, n := range []int{1_000, 10_000, 100_000} {
		revoked := make([]Revocation, n)
		for i := range n {
			revoked[i] = Revocation{Serial: big.NewInt(int64(i) + 1), Time: t0, Reason: ReasonSuperseded}
		}
		opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0), Revoked: revoked}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadCA(h.ca.Signer(), h.ca.DER(), h.ca.Chain()[1:], opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/revocation")
		})
	}
}

// TestIssueCRLTooLong: a CRL that would be longer than MaxCRLSize, which
// no Verifier reads, is not issued (ErrInvalid); fewer of the same
// entries are.
func TestIssueCRLTooLong(t *testing.T) {
	h := newHierarchy(t)
	// Entries of a 20-octet serial, a time and a reason code take more
	// than 40 octets each.
	serial := new(big.Int).Lsh(big.NewInt(1), maxIntegerBits-1)
	revoked := make([]Revocation, MaxCRLSize/40)
	for i := range revoked {
		revoked[i] = Revocation{Serial: new(big.Int).Add(serial, big.NewInt(int64(i))), Time: t0.Add(-time.Hour), Reason: ReasonKeyCompromise}
	}
	_, err := h.ca.IssueCRL(revoked, 1, t0.Add(time.Hour))
	requireRefusal(t, err, ErrInvalid, -1)
	assert.Regexp(t, `^pki: invalid argument: CRL of \d+ octets, longer than the 8388608 that a Verifier reads$`, err.Error())

	_, err = h.ca.IssueCRL(revoked[:1000], 1, t0.Add(time.Hour))
	require.NoError(t, err, "the same entries, fewer")
}
