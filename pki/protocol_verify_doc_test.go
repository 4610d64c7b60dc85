package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/pki/record"
)

// verificationCase maps a row of the chain verification table of
// PROTOCOL.md §4.5 to the tests that present a chain failing that check
// and assert its refusal with errors.Is.
type verificationCase struct {
	check string // the first words of the row's check
	// digest is the row's protocoldoc.Digest, so that a row changed in the
	// document fails until its case is checked against it again.
	digest string
	errs   []error            // the refusals that the row names, in its order
	tests  []func(*testing.T) // the tests that cover the row
}

// verificationCases are the rows of the chain verification table of
// PROTOCOL.md §4.5, in its order.
var verificationCases = []verificationCase{
	{"at most 3 certificates presented", "15a4c6c8", []error{ErrUntrusted}, []func(*testing.T){TestVerifyCardDepth}},
	{"every certificate presented is at most 4096 octets", "271e4a84", []error{ErrUntrusted},
		[]func(*testing.T){TestVerifyCardCertificateSize, TestVerifyCardSizeBeforeCache, TestVerifyCardMalformed, TestBytesAfterSignature, TestSignatureUnusedBits, TestVersion1WrittenOut}},
	{"every certificate presented, in the order presented", "8142f17e", []error{ErrUsage},
		[]func(*testing.T){TestVerifyCAProfile, TestVerifyLeafUnhandledCriticalExtension, TestIntermediateUnhandledCriticalExtension, TestVerifyCardRefusalPresentedPosition}},
	{"every certificate presented: notBefore and notAfter", "717b140d", []error{ErrUsage},
		[]func(*testing.T){TestCertificateTimesOutsideRFC5280, TestCertificateExplicitNonCritical, TestBytesAfterExtensions, TestBytesAfterLastField,
			TestKeyInfoEncoding, TestKeyUnusedBits, TestSignatureAlgorithmParameters, TestNameEncoding, TestUniqueIDs,
			TestCAExtensionValueEncoding, TestCAExtKeyUsageEncoding, TestCardExtensionValueEncoding, TestCertificatePoliciesEncoding}},
	{"every certificate presented, but a configured root", "f1d6802a", []error{ErrUsage},
		[]func(*testing.T){TestAlgorithmAllowList, TestAlgorithmAllowListRootCopy, TestVerifyCardRefusals}},
	{"every certificate presented valid at the verifier's time", "b28b6761", []error{ErrExpired},
		[]func(*testing.T){TestVerifyCardRefusals, TestSkew, TestVerifyCardRefusalOrder}},
	{"a path to a configured root with valid signatures exists", "cb26a5a2", []error{ErrUntrusted, ErrExpired, ErrUsage},
		[]func(*testing.T){TestVerifyCardRefusals, TestVerifyCardDepth, TestCacheRootNotPresentedStartsLater, TestVerifyNameConstraints}},
	{"signature algorithm of every certificate below the root", "6cd173e4", []error{ErrUsage},
		[]func(*testing.T){TestVerifyCardRefusals, TestVerifyCAProfile, TestVerifyAuthorityKeyID, TestVerifyCACRLDistributionPoints,
			TestVerifyCardSerialWithin20Octets, TestCAExtKeyUsage, TestRootExtKeyUsage}},
	{"card: basicConstraints and keyUsage", "309ac6b0", []error{ErrUsage},
		[]func(*testing.T){TestVerifyCardRefusals, TestVerifyCardLeafProfile, TestVerifyCardLeafExtensions}},
	{"card: the SAN extension", "4e0d5790", []error{ErrCardID}, []func(*testing.T){TestVerifyCardRefusals}},
	{"no certificate's serial is listed", "d2f93e63", []error{ErrRevoked},
		[]func(*testing.T){TestVerifyCardRefusals, TestVerifyCardRefusalOrder, TestRevokedUnderEveryPolicy, TestRevocationBeforeCRLUnavailable, TestRevokedPathNotTaken}},
	{"revocation: for every certificate below the root", "f5cfa79c", []error{ErrCRL},
		[]func(*testing.T){TestVerifyCardRefusals, TestRevocationPolicies, TestCRLNotYetValidReason}},
}

// errorSpan is an error of pki named in PROTOCOL.md, such as `ErrCRL`.
var errorSpan = regexp.MustCompile("`(Err[A-Za-z]+)`")

// TestProtocolVerificationTable walks the chain verification table of
// PROTOCOL.md §4.5 and checks that each row has its case, the tests that
// cover it, naming the refusals that the row names: a row added, removed
// or changed in the document fails until a case is made or checked for
// it.
func TestProtocolVerificationTable(t *testing.T) {
	sentinels := map[string]error{
		"ErrUntrusted": ErrUntrusted, "ErrUsage": ErrUsage, "ErrExpired": ErrExpired,
		"ErrCardID": ErrCardID, "ErrRevoked": ErrRevoked, "ErrCRL": ErrCRL,
	}
	rows := protocoldoc.Table(t, "### 4.5 Verification")
	assert.Len(t, rows, len(verificationCases), "a case for each row of PROTOCOL.md §4.5")
	for i, r := range rows {
		if !assert.Len(t, r, 2, "row %d", i) {
			continue
		}
		digest := protocoldoc.Digest(r)
		if i >= len(verificationCases) {
			t.Errorf("row %d %.60q (digest %s) has no case", i, r[0], digest)
			continue
		}
		c := verificationCases[i]
		assert.True(t, strings.HasPrefix(r[0], c.check), "row %d starts %.60q, not %q", i, r[0], c.check)
		assert.Equal(t, c.digest, digest, "row %d %q changed: check its case's tests and refusals against it, then its digest", i, c.check)
		var named []error
		for _, m := range errorSpan.FindAllStringSubmatch(r[1], -1) {
			e, ok := sentinels[m[1]]
			if assert.True(t, ok, "row %d %q: %s is no refusal of VerifyCard", i, c.check, m[1]) {
				named = append(named, e)
			}
		}
		assert.Equal(t, c.errs, named, "row %d %q: the refusals it names", i, c.check)
		assert.NotEmpty(t, c.tests, "row %d %q: a test covers it", i, c.check)
	}
}

// TestProtocolPossessionOrder keeps the order of the checks of a record
// that proves possession, PROTOCOL.md §4.6, and those of a Challenger in
// step: a record that fails a check and every check after it is refused
// for that check, with its error: the chain, then the record's signature
// under the certificate's key, then its card ID, then its nonce, then the
// card's counter.
func TestProtocolPossessionOrder(t *testing.T) {
	protocoldoc.Says(t, "### 4.6 Proof of possession",
		"The platform accepts it only if, in this order (`pki.Challenger`'s; `payflow` verifies the record's "+
			"signature before the chain, below): the chain verifies (§4.5); the record verifies under "+
			"the certificate's key as the expected type; the record's card ID equals the certificate's ICCID "+
			"byte for byte (`ErrCardID`); its nonce, if the record type carries one, is one the platform "+
			"issued, unexpired and not used before (`ErrNonce` otherwise); and the card's counter is strictly "+
			"greater than the highest accepted for that card (`ErrCounterRegression`",
	)
	ctx := context.Background()
	h := newHierarchy(t)
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{})
	spent, err := c.NewNonce(ctx)
	require.NoError(t, err)
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 5, spent), new(record.AuthProof))
	require.NoError(t, err)

	forger := &hierarchy{cardKey: newKey(t)}
	for _, tt := range []struct {
		name  string
		chain [][]byte
		msg   []byte
		want  error
	}{
		// Each record also fails every check after the one it is refused
		// for: a spent nonce and a counter below the card's.
		{"chain", [][]byte{h.card}, proof(t, forger, testICCID2, 4, spent), ErrUntrusted},
		{"signature", h.chain(), proof(t, forger, testICCID2, 4, spent), record.ErrSignature},
		{"card ID", h.chain(), proof(t, h, testICCID2, 4, spent), ErrCardID},
		{"nonce", h.chain(), proof(t, h, testICCID, 4, spent), ErrNonce},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Verify(ctx, tt.chain, tt.msg, new(record.AuthProof))
			require.ErrorIs(t, err, tt.want)
			for _, later := range []error{ErrUntrusted, record.ErrSignature, ErrCardID, ErrNonce, ErrCounterRegression} {
				if later != tt.want {
					assert.NotErrorIs(t, err, later)
				}
			}
		})
	}
	fresh, err := c.NewNonce(ctx)
	require.NoError(t, err)
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 4, fresh), new(record.AuthProof))
	assert.ErrorIs(t, err, ErrCounterRegression, "the counter, last")
}

// TestProtocolCRLProfile keeps the CRLs of PROTOCOL.md §4.4 and those that
// a CA issues in step: a v2 CRL signed ecdsa-with-SHA256, whatever the
// CA's curve, with a CRL number, a next update and the CA's subject key
// identifier as its authority key identifier; an entry carries the serial
// number, the revocation date and the reason code, but for
// "unspecified", which it carries no reason code extension for.
func TestProtocolCRLProfile(t *testing.T) {
	protocoldoc.Says(t, "### 4.4 CRLs",
		"Each CA publishes a v2 CRL signed with its key (`ecdsa-with-SHA256`), with `thisUpdate`, **`nextUpdate` (required)**, the CRL number (required",
		"entries carry the serial number, revocation date and, except for \"unspecified\", the reason code (RFC 5280 §5.3.1)",
	)
	h := newHierarchy(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	root384, err := NewRoot(p384, CAOptions{CRLURL: "http://pki.example/root384.crl", Now: fixed(t0)})
	require.NoError(t, err)
	revoked := []Revocation{
		{Serial: big.NewInt(5), Time: t0.Add(-time.Hour), Reason: ReasonUnspecified},
		{Serial: big.NewInt(6), Time: t0.Add(-time.Minute), Reason: ReasonKeyCompromise},
	}
	for name, ca := range map[string]*CA{"P-256 card CA": h.ca, "P-384 root": root384} {
		t.Run(name, func(t *testing.T) {
			der, err := ca.IssueCRL(revoked, 3, t0.Add(time.Hour))
			require.NoError(t, err)
			crl, err := x509.ParseRevocationList(der)
			require.NoError(t, err)
			tbs := cryptobyte.String(crl.RawTBSRevocationList)
			var fields cryptobyte.String
			var version int
			require.True(t, tbs.ReadASN1(&fields, cbasn1.SEQUENCE) && fields.ReadASN1Integer(&version))
			assert.Equal(t, 1, version, "v2")
			assert.Equal(t, x509.ECDSAWithSHA256, crl.SignatureAlgorithm)
			assert.Equal(t, int64(3), crl.Number.Int64())
			assert.Equal(t, t0, crl.ThisUpdate)
			assert.Equal(t, t0.Add(time.Hour), crl.NextUpdate)
			assert.Equal(t, ca.Certificate().SubjectKeyId, crl.AuthorityKeyId)

			require.Len(t, crl.RevokedCertificateEntries, 2)
			for i, e := range crl.RevokedCertificateEntries {
				assert.Zero(t, revoked[i].Serial.Cmp(e.SerialNumber), "entry %d: serial number", i)
				assert.Equal(t, revoked[i].Time, e.RevocationTime, "entry %d: revocation date", i)
				assert.Equal(t, revoked[i].Reason, e.ReasonCode, "entry %d: reason", i)
			}
			assert.Empty(t, crl.RevokedCertificateEntries[0].Extensions, "unspecified: no reason code")
			assert.Equal(t, []pkix.Extension{{Id: oidReasonCode, Value: []byte{0x0a, 0x01, ReasonKeyCompromise}}},
				crl.RevokedCertificateEntries[1].Extensions, "keyCompromise: its reason code, not critical")
		})
	}
}

// TestProtocolCacheAfterDepth: a chain is looked up in the cache of
// PROTOCOL.md §4.5 only once it is within the bounds of the first two rows
// of its table: a chain of more certificates than the verifier's depth is
// refused for that, ErrUntrusted, even when the cache holds a verified
// chain under its key, which is left.
func TestProtocolCacheAfterDepth(t *testing.T) {
	protocoldoc.Says(t, "### 4.5 Verification",
		"a chain hashed and looked up only once it is within the bounds of the first two rows (its number of certificates and each one's length)")
	h, clk, v, verified := cachedHierarchy(t)
	long := append(h.chain(), h.root.DER(), h.root.DER())
	require.Len(t, long, DefaultMaxDepth+1)
	v.cache.put(chainKey(roleCard, long), verified, clk.now(), v.crls.Load(), &v.crls)
	vc, err := v.VerifyCard(long)
	assert.Nil(t, vc)
	requireRefusal(t, err, ErrUntrusted, -1)
	assert.EqualError(t, err, fmt.Sprintf("pki: untrusted certificate chain: chain longer than %d certificates", DefaultMaxDepth))
	assert.Same(t, verified, v.cache.get(chainKey(roleCard, long), clk.now(), v.crls.Load()), "the entry is left")
}

// cachedHierarchy returns a hierarchy, a verifier of it with a cache and
// its clock, and the cache's entry of the hierarchy's chain, verified.
func cachedHierarchy(t *testing.T) (*hierarchy, *clock, *Verifier, *result) {
	t.Helper()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{CacheSize: 4})
	addCRLs(t, h, v)
	_, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	verified := v.cache.get(chainKey(roleCard, h.chain()), clk.now(), v.crls.Load())
	require.NotNil(t, verified)
	return h, clk, v, verified
}

// TestProtocolConfiguredCertificateSize: a verifier's root or
// intermediate and a CA's certificate or issuer loaded from storage longer
// than MaxCertificateSize are refused as malformed before they are parsed
// (ErrUntrusted, errCertificateSize), naming the certificate refused, as
// PROTOCOL.md §4.3 has them.
func TestProtocolConfiguredCertificateSize(t *testing.T) {
	protocoldoc.Says(t, "### 4.3 Certificates",
		"`pki` reads no longer one, refusing it as malformed before parsing it (`ErrUntrusted`, §4.5; a CA loaded from storage or a verifier's root or intermediate too)")
	h := newHierarchy(t)
	over := bytes.Repeat([]byte{0x30}, MaxCertificateSize+1)
	refused := func(t *testing.T, err error, reason string) {
		t.Helper()
		requireRefusal(t, err, ErrUntrusted, -1)
		assert.ErrorIs(t, err, errCertificateSize)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, reason, pe.Reason)
	}
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER(), over}})
	assert.Nil(t, v)
	refused(t, err, "root 1 is malformed")
	v, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{h.ca.DER(), over}})
	assert.Nil(t, v)
	refused(t, err, "intermediate 1 is malformed")

	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)}
	ca, err := LoadCA(h.ca.Signer(), over, h.ca.Chain()[1:], opts)
	assert.Nil(t, ca)
	refused(t, err, "CA certificate is malformed")
	ca, err = LoadCA(h.ca.Signer(), h.ca.DER(), [][]byte{over}, opts)
	assert.Nil(t, ca)
	refused(t, err, "issuer 0 is malformed")
}

// TestProtocolCardNamedByItsURI: a card is named only by its URI SAN, as
// PROTOCOL.md §4.3 has it: a verifier takes a card whose subject common
// name is another ICCID, or no ICCID, or absent, and names it by its URI.
func TestProtocolCardNamedByItsURI(t *testing.T) {
	protocoldoc.Says(t, "### 4.3 Certificates",
		"**Card ID.** The card is named only by its URI SAN; the subject CN repeats the ICCID for people and is ignored by verifiers.")
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	for name, subject := range map[string]pkix.Name{
		"another ICCID": {CommonName: testICCID2},
		"no ICCID":      {CommonName: "card of Alice"},
		"no CN":         {Organization: []string{"CA-SIM"}},
	} {
		t.Run(name, func(t *testing.T) {
			tmpl := cardTemplate(t, testICCID)
			tmpl.Subject = subject
			card := issueRaw(t, h.ca, tmpl, h.cardKey.Public())
			vc, err := v.VerifyCard([][]byte{card, h.ca.DER()})
			require.NoError(t, err)
			assert.Equal(t, testICCID, vc.CardID)
		})
	}
}
