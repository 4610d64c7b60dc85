package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var x509OIDKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// unknownCritical is a critical extension that crypto/x509 does not
// handle: a certificate that carries it has it in
// UnhandledCriticalExtensions.
var unknownCritical = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}}

// maxSerial is the largest serial number of 20 octets (7f ff … ff), the
// longest RFC 5280 allows, and overSerial the next one, of 21 octets (00
// 80 00 … 00). Tests must not change them.
var (
	maxSerial  = new(big.Int).Sub(overSerial, big.NewInt(1))
	overSerial = new(big.Int).Lsh(big.NewInt(1), 159)
)

// t0 is the test clock's start: every certificate of a test hierarchy is
// issued at t0.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	testICCID  = "89014103211118510720"
	testICCID2 = "8944500102198304826"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// hierarchy is a root, a card-issuing CA and one card, issued at t0.
type hierarchy struct {
	root    *CA
	ca      *CA
	cardKey *ecdsa.PrivateKey
	card    []byte
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func newHierarchy(t testing.TB) *hierarchy { t.Helper(); return newHierarchyAt(t, fixed(t0)) }

// newHierarchyAt is newHierarchy with the CAs clocked by now.
func newHierarchyAt(t testing.TB, now func() time.Time) *hierarchy {
	t.Helper()
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: now})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: now})
	require.NoError(t, err)
	h := &hierarchy{root: root, ca: ca, cardKey: newKey(t)}
	h.card, err = ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	return h
}

// chain is the card's certificate followed by the card-issuing CA's.
func (h *hierarchy) chain() [][]byte { return append([][]byte{h.card}, h.ca.Chain()...) }

// crls returns fresh CRLs of the root and the card-issuing CA, valid for a
// day from t0.
func (h *hierarchy) crls(t testing.TB) [][]byte {
	t.Helper()
	r, err := h.root.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	c, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	return [][]byte{r, c}
}

// clock is a settable test clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(at time.Time) *clock {
	c := &clock{}
	c.set(at)
	return c
}

func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// newVerifier returns a verifier trusting h's root, knowing h's card CA,
// clocked by clk, with opts's other fields.
func newVerifier(t testing.TB, h *hierarchy, clk *clock, opts VerifierOptions) *Verifier {
	t.Helper()
	opts.Roots = [][]byte{h.root.DER()}
	opts.Intermediates = append(opts.Intermediates, h.ca.DER())
	opts.Now = clk.now
	v, err := NewVerifier(opts)
	require.NoError(t, err)
	return v
}

// cardTemplate is a card certificate of the profile, for tests to change
// one thing of.
func cardTemplate(t testing.TB, iccid string) *x509.Certificate {
	t.Helper()
	ext, err := ekuExtension(OIDCardAuth)
	require.NoError(t, err)
	u, err := url.Parse(CardURIPrefix + iccid)
	require.NoError(t, err)
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: iccid},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
		ExtraExtensions:       []pkix.Extension{ext},
	}
}

// caTemplateOf is the template of a CA certificate of the profile named
// "card CA", changed by change, for issueRaw.
func caTemplateOf(change func(c *x509.Certificate)) *x509.Certificate {
	c := &x509.Certificate{
		Subject: pkix.Name{CommonName: "card CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	change(c)
	return c
}

// issueRaw signs tmpl with ca, filling in a serial number, validity from t0
// for a year and ca's CRL distribution point where tmpl leaves them zero,
// and, for a certificate that is not a CA, the subject key identifier of
// the profile where tmpl's is nil (crypto/x509 makes one for a CA). An
// empty, not nil, CRLDistributionPoints or SubjectKeyId leaves the
// extension out (see createCert). A non-nil AuthorityKeyId is written in
// place of ca's subject key identifier, and an empty one leaves the
// extension out.
func issueRaw(t testing.TB, ca *CA, tmpl *x509.Certificate, pub any) []byte {
	t.Helper()
	parent := ca.Certificate()
	if tmpl.AuthorityKeyId != nil {
		// crypto/x509 writes the parent's subject key identifier, or the
		// template's authority key identifier when the parent has none.
		p := *parent
		p.SubjectKeyId = tmpl.AuthorityKeyId
		parent = &p
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok && tmpl.SubjectKeyId == nil && !tmpl.IsCA {
		id, err := keyID(k)
		require.NoError(t, err)
		tmpl.SubjectKeyId = id
	}
	if tmpl.SerialNumber == nil {
		s, err := randomSerial(rand.Reader)
		require.NoError(t, err)
		tmpl.SerialNumber = s
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = t0
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = t0.Add(365 * 24 * time.Hour)
	}
	if tmpl.CRLDistributionPoints == nil {
		tmpl.CRLDistributionPoints = []string{ca.crlURL}
	}
	return createCert(t, tmpl, parent, pub, ca.Signer())
}

// createCert is x509.CreateCertificate, but for a CA template whose
// SubjectKeyId is empty, not nil, it leaves the subject key identifier
// out, where crypto/x509 makes one for a CA.
func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, signer crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	require.NoError(t, err)
	if tmpl.IsCA && tmpl.SubjectKeyId != nil && len(tmpl.SubjectKeyId) == 0 {
		der = withoutExtension(t, der, asn1.ObjectIdentifier{2, 5, 29, 14}, signer)
	}
	return der
}

// withoutExtension returns der, a certificate signed with ECDSA with
// SHA-256, without its extension id, signed again by signer.
func withoutExtension(t testing.TB, der []byte, id asn1.ObjectIdentifier, signer crypto.Signer) []byte {
	t.Helper()
	edit := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, ext cryptobyte.String) {
		if !oid.Equal(id) {
			b.AddBytes(ext)
		}
	}
	return resigned(t, signer, der, extensionsEdit(t, cbasn1.Tag(3).Constructed().ContextSpecific(), edit))
}

// extensionsEdit returns an edit for resigned that keeps every element of
// the signed content but the extensions, tagged extsTag ([3] in a
// certificate, [0] in a CRL), in place of each of which, ext of OID id,
// it puts what edit adds to b.
func extensionsEdit(t testing.TB, extsTag cbasn1.Tag, edit func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String)) func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	return func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		if tag != extsTag {
			b.AddBytes(elem)
			return
		}
		var outer, exts cryptobyte.String
		require.True(t, elem.ReadASN1(&outer, extsTag) && outer.ReadASN1(&exts, cbasn1.SEQUENCE))
		b.AddASN1(extsTag, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for !exts.Empty() {
					var ext, body cryptobyte.String
					var id asn1.ObjectIdentifier
					require.True(t, exts.ReadASN1Element(&ext, cbasn1.SEQUENCE))
					inner := ext
					require.True(t, inner.ReadASN1(&body, cbasn1.SEQUENCE) && body.ReadASN1ObjectIdentifier(&id))
					edit(b, id, ext)
				}
			})
		})
	}
}

// resigned returns der, a signed object of X.509 (a certificate or a CRL)
// signed with ECDSA with SHA-256, with each element of its signed content
// replaced by what edit adds to b for it, signed again by signer.
func resigned(t testing.TB, signer crypto.Signer, der []byte, edit func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String)) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var signed, tbs, alg cryptobyte.String
	require.True(t, in.ReadASN1(&signed, cbasn1.SEQUENCE))
	require.True(t, signed.ReadASN1(&tbs, cbasn1.SEQUENCE))
	require.True(t, signed.ReadASN1Element(&alg, cbasn1.SEQUENCE))
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for !tbs.Empty() {
			var elem cryptobyte.String
			var tag cbasn1.Tag
			require.True(t, tbs.ReadAnyASN1Element(&elem, &tag))
			edit(b, tag, elem)
		}
	})
	newTBS, err := b.Bytes()
	require.NoError(t, err)
	digest := sha256.Sum256(newTBS)
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	return signedDER(t, newTBS, alg, sig)
}

// addCRLs adds fresh CRLs of h's root and card CA to v.
func addCRLs(t testing.TB, h *hierarchy, v *Verifier) {
	t.Helper()
	for _, crl := range h.crls(t) {
		require.NoError(t, v.AddCRL(crl))
	}
}

// len returns the number of chains c holds.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// refusals returns the number of refusals c holds, counted over all its
// entries, not from its list of refusals.
func (c *cache) refusals() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.ll.Front(); el != nil; el = el.Next() {
		if el.Value.(*cacheEntry).res.err != nil {
			n++
		}
	}
	return n
}

// profileKeyID returns the subject key identifier that the profile gives
// c's key (PROTOCOL.md §4.3, RFC 7093 §2 method 1): the first 160 bits of
// the SHA-256 of the value of the subjectPublicKey BIT STRING, read from
// c's SubjectPublicKeyInfo as encoded.
func profileKeyID(t *testing.T, c *x509.Certificate) []byte {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki)
	require.NoError(t, err)
	require.Empty(t, rest)
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20]
}

// misencodedTimes are encodings of a time of a year from 1950 to 2049, by
// name, that crypto/x509 parses as that time and RFC 5280 (§4.1.2.5,
// §5.1.2.4) refuses, with the words of the refusal: a UTCTime in UTC
// ("Z") with seconds is the one it has. The times encoded have no
// fraction of a second; for "UTCTime without seconds", none either.
var misencodedTimes = map[string]struct {
	encode func(b *cryptobyte.Builder, at time.Time)
	why    string
}{
	"GeneralizedTime": {
		func(b *cryptobyte.Builder, at time.Time) { b.AddASN1GeneralizedTime(at) },
		"encoded as GeneralizedTime",
	},
	"UTCTime with an offset": {
		func(b *cryptobyte.Builder, at time.Time) {
			b.AddASN1(cbasn1.UTCTime, func(b *cryptobyte.Builder) {
				b.AddBytes([]byte(at.In(time.FixedZone("", -3600)).Format("060102150405-0700")))
			})
		},
		"not in UTC",
	},
	"UTCTime without seconds": {
		func(b *cryptobyte.Builder, at time.Time) {
			b.AddASN1(cbasn1.UTCTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(at.UTC().Format("0601021504Z"))) })
		},
		"not in UTC",
	},
}
