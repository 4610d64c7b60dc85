package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// reasonCase is one chain of a card certificate that a verifier must
// refuse with one exact error, the check that refuses it named by its
// reason.
type reasonCase struct {
	name  string
	chain func(t *testing.T, h *hierarchy) [][]byte
	want  *Error
}

// runReasons verifies the chain of each case against a new hierarchy,
// with fresh CRLs of its CAs, an hour after t0, and requires its error,
// cause included.
func runReasons(t *testing.T, cases []reasonCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			chain := tt.chain(t, h)
			v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
			addCRLs(t, h, v)
			vc, err := v.VerifyCard(chain)
			assert.Nil(t, vc)
			require.ErrorIs(t, err, tt.want.Err)
			assert.Equal(t, tt.want, err)
		})
	}
}

// TestVerifyCardLeafRefusalReasons: each check of the profile of a card
// certificate (PROTOCOL.md §4.3) refuses, with its own reason, a card
// certificate that breaks it alone, before any later check would refuse
// it for another reason.
func TestVerifyCardLeafRefusalReasons(t *testing.T) {
	usage := func(reason string) *Error { return &Error{Err: ErrUsage, Cert: 0, Reason: reason} }
	ext := func(id asn1.ObjectIdentifier, critical bool, value ...byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: id, Critical: critical, Value: value})
		}
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(CardURIPrefix + testICCID)}})
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	runReasons(t, []reasonCase{
		{
			name:  "CA:TRUE",
			chain: withCard(card(func(c *x509.Certificate) { c.IsCA = true })),
			want:  usage("a CA certificate cannot be a card or platform certificate"),
		},
		{
			name:  "basicConstraints not critical",
			chain: withCard(card(ext(oidBasicConstraints, false, 0x30, 0x00))),
			want:  usage("basic constraints other than critical CA:FALSE without a path length"),
		},
		{
			name:  "keyUsage not critical",
			chain: withCard(card(ext(oidKeyUsage, false, 0x03, 0x02, 0x07, 0x80))),
			want:  usage("key usage other than critical digitalSignature alone"),
		},
		{
			name: "P-384 key",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return append([][]byte{issueRaw(t, h.ca, cardTemplate(t, testICCID), p384.Public())}, h.ca.Chain()...)
			},
			want: usage("key is not ECDSA P-256"),
		},
		{
			name:  "no subjectKeyIdentifier",
			chain: withCard(card(func(c *x509.Certificate) { c.SubjectKeyId = []byte{} })),
			want:  usage("no subject key identifier"),
		},
		{
			name:  "no cRLDistributionPoints",
			chain: withCard(card(func(c *x509.Certificate) { c.CRLDistributionPoints = []string{} })),
			want:  usage(crlDPWhy),
		},
		{
			name:  "critical extKeyUsage",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions[0].Critical = true })),
			want:  usage("critical extended key usage"),
		},
		{
			name:  "empty extKeyUsage",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = nil; ext(oidExtKeyUsage, false, 0x30, 0x00)(c) })),
			want: &Error{Err: ErrUsage, Cert: 0, Reason: "extended key usage",
				Cause: &Error{Err: ErrUsage, Cert: -1, Reason: "empty extended key usage extension"}},
		},
		{
			name:  "no card authentication",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, mustOID("1.3.6.1.5.5.7.3.2")) })),
			want:  usage("extended key usage " + OIDCardAuth.String() + " missing"),
		},
		{
			name:  "card authentication and any",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDCardAuth, oidAnyEKU) })),
			want:  usage("extended key usage also allows another role"),
		},
		{
			name:  "card authentication and receipt signing",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDCardAuth, OIDReceiptSigning) })),
			want:  usage("extended key usage also allows another role"),
		},
		{
			name:  "critical subjectAltName",
			chain: withCard(card(func(c *x509.Certificate) { c.URIs = nil; ext(oidSubjectAltName, true, san...)(c) })),
			want:  usage("critical subject alternative name"),
		},
		{
			name:  "serial zero",
			chain: withCard(card(func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) })),
			want:  usage("serial number not positive or longer than 20 octets"),
		},
		{
			name:  "authority key identifier of another key",
			chain: withCard(card(func(c *x509.Certificate) { c.AuthorityKeyId = make([]byte, 20) })),
			want:  usage("authority key identifier is not the issuer's subject key identifier"),
		},
	})
}

// TestCardIDRefusals: CardID refuses (ErrCardID), each with its own
// reason, a subject alternative name that is not one SEQUENCE with
// nothing after it, that holds no name or more than one, or whose one
// name is not a URI, though it spells the card URI of a valid ICCID, and
// a certificate without the extension, whatever URIs it is given parsed.
func TestCardIDRefusals(t *testing.T) {
	uri := []byte(CardURIPrefix + testICCID)
	element := func(tag byte, content []byte) []byte { return append([]byte{tag, byte(len(content))}, content...) }
	sanOf := func(names ...[]byte) []byte {
		var all []byte
		for _, n := range names {
			all = append(all, n...)
		}
		return element(0x30, all)
	}
	cardID := func(value []byte) (string, error) {
		return CardID(&x509.Certificate{Extensions: []pkix.Extension{{Id: oidSubjectAltName, Value: value}}})
	}
	id, err := cardID(sanOf(element(0x86, uri)))
	require.NoError(t, err)
	assert.Equal(t, testICCID, id)

	for _, tt := range []struct {
		name   string
		value  []byte
		reason string
	}{
		{"bytes after its SEQUENCE", append(sanOf(element(0x86, uri)), 0x05, 0x00), "malformed subject alternative name"},
		{"no name", sanOf(), "empty subject alternative name"},
		{"the URI and a DNS name", sanOf(element(0x86, uri), element(0x82, []byte("card.example"))), "more than one subject alternative name"},
		{"the URI twice", sanOf(element(0x86, uri), element(0x86, uri)), "more than one subject alternative name"},
		{"the URI as a DNS name", sanOf(element(0x82, uri)), "subject alternative name is not a URI"},
	} {
		id, err := cardID(tt.value)
		assert.Empty(t, id, tt.name)
		assert.Equal(t, &Error{Err: ErrCardID, Cert: 0, Reason: tt.reason}, err, tt.name)
	}
	id, err = CardID(&x509.Certificate{URIs: []*url.URL{{Scheme: "urn", Opaque: "casim:card:" + testICCID}}})
	assert.Empty(t, id, "no extension")
	assert.Equal(t, &Error{Err: ErrCardID, Cert: 0, Reason: "no subject alternative name"}, err, "no extension")
	id, err = cardID(sanOf(element(0x86, []byte(CardURIPrefix+"89014103211118510721"))))
	assert.Empty(t, id)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrCardID)
	assert.Equal(t, 0, pe.Cert, "an invalid ICCID")
}

// TestVerifyCardCRLDistributionPointShape: a card certificate is refused
// (ErrUsage) for CRL distribution points with bytes after their
// SEQUENCE, a distribution point name with another field after its full
// name, or a URI that is empty, each of which crypto/x509 parses, reading
// the URIs alone.
func TestVerifyCardCRLDistributionPointShape(t *testing.T) {
	element := func(tag byte, content ...[]byte) []byte {
		var all []byte
		for _, c := range content {
			all = append(all, c...)
		}
		return append([]byte{tag, byte(len(all))}, all...)
	}
	// points is the value of one distribution point whose name holds
	// fullName and the fields after it.
	points := func(fullName []byte, after ...byte) []byte {
		return element(0x30, element(0x30, element(0xa0, fullName, after)))
	}
	uri := element(0x86, []byte("http://pki.example/card.crl"))
	crldp := func(value []byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidCRLDistributionPoints, Value: value})
		}
	}
	refused := &Error{Err: ErrUsage, Cert: 0, Reason: crlDPWhy}
	runReasons(t, []reasonCase{
		{"bytes after its SEQUENCE", withCard(card(crldp(append(points(element(0xa0, uri)), 0x05, 0x00)))), refused},
		{"a field after the full name", withCard(card(crldp(points(element(0xa0, uri), 0xa1, 0x00)))), refused},
		{"an empty URI", withCard(card(crldp(points(element(0xa0, element(0x86)))))), refused},
		{"an empty URI after another", withCard(card(crldp(points(element(0xa0, uri, element(0x86)))))), refused},
	})
}

// TestVerifyCAProfileReasons: a CA certificate outside the profile of
// PROTOCOL.md §4.3 is refused (ErrUsage) with the reason of the one check
// it breaks, presented in a chain (at its position), given to NewVerifier
// as an intermediate and given as a root.
func TestVerifyCAProfileReasons(t *testing.T) {
	ext := func(id asn1.ObjectIdentifier, value ...byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: id, Value: value})
		}
	}
	const (
		noBC  = "without a critical basicConstraints of CA:TRUE"
		noKU  = "without a critical keyUsage with keyCertSign and cRLSign"
		noSKI = "without a subject key identifier"
	)
	for _, tt := range []struct {
		name   string
		change func(c *x509.Certificate)
		why    string
	}{
		{"basicConstraints not critical", ext(oidBasicConstraints, 0x30, 0x03, 0x01, 0x01, 0xff), noBC},
		{"critical basicConstraints of CA:FALSE", func(c *x509.Certificate) { c.IsCA = false }, noBC},
		{"keyUsage not critical", ext(oidKeyUsage, 0x03, 0x02, 0x01, 0x06), noKU},
		{"without keyCertSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCRLSign }, noKU},
		{"without cRLSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }, noKU},
		{"without subjectKeyIdentifier", func(c *x509.Certificate) { c.SubjectKeyId = []byte{} }, noSKI},
	} {
		t.Run("presented, "+tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
			_, err := v.VerifyCard(h.subCAChain(t, newKey(t), caTemplateOf(tt.change), cardTemplate(t, testICCID)))
			assert.Equal(t, &Error{Err: ErrUsage, Cert: 1, Reason: "intermediate " + tt.why}, err)
		})
		t.Run("intermediate, "+tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()},
				Intermediates: [][]byte{issueRaw(t, h.root, caTemplateOf(tt.change), newKey(t).Public())}})
			assert.Nil(t, v)
			assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: "intermediate 0 " + tt.why}, err)
		})
		t.Run("root, "+tt.name, func(t *testing.T) {
			key := newKey(t)
			tmpl := caTemplateOf(tt.change)
			tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{createCert(t, tmpl, tmpl, key.Public(), key)}})
			assert.Nil(t, v)
			assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: "root 0 " + tt.why}, err)
		})
	}
}

// TestVerifyPlatformProfileReasons: a platform certificate whose subject
// is not one common name, not empty, is refused (ErrUsage) for its
// subject, an empty common name alone included, and one with a subject
// alternative name for it.
func TestVerifyPlatformProfileReasons(t *testing.T) {
	subject := func(rdns ...pkix.RelativeDistinguishedNameSET) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			raw, err := asn1.Marshal(pkix.RDNSequence(rdns))
			require.NoError(t, err)
			c.RawSubject = raw
		}
	}
	cn := func(v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oidCommonName, Value: v}}
	}
	const notOneName = "platform subject is not one common name, not empty"
	for _, tt := range []struct {
		name   string
		change func(c *x509.Certificate)
		reason string
	}{
		{"one empty common name", subject(cn("")), notOneName},
		{"two common names", subject(cn("casimpay platform"), cn("other platform")), notOneName},
		{"an organization", subject(pkix.RelativeDistinguishedNameSET{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "casimpay"}}), notOneName},
		{"DNS SAN", func(c *x509.Certificate) { c.DNSNames = []string{"platform.example"} }, "platform certificate with a subject alternative name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
			addCRLs(t, h, v)
			tmpl := &x509.Certificate{
				Subject:               pkix.Name{CommonName: "casimpay platform"},
				KeyUsage:              x509.KeyUsageDigitalSignature,
				BasicConstraintsValid: true,
				ExtraExtensions:       ekuOf(t, OIDReceiptSigning),
			}
			tt.change(tmpl)
			vp, err := v.VerifyPlatform(append([][]byte{issueRaw(t, h.ca, tmpl, newKey(t).Public())}, h.ca.Chain()...))
			assert.Nil(t, vp)
			assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: tt.reason}, err)
		})
	}
}

// withSignatureAlgorithm returns der, a certificate, with both its
// signature algorithms replaced by alg, its signature kept as it is.
func withSignatureAlgorithm(t *testing.T, der, alg []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var signed, tbs cryptobyte.String
	var sig asn1.BitString
	require.True(t, in.ReadASN1(&signed, cbasn1.SEQUENCE) && signed.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		signed.SkipASN1(cbasn1.SEQUENCE) && signed.ReadASN1BitString(&sig))
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		var version, serial cryptobyte.String
		require.True(t, tbs.ReadASN1Element(&version, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
			tbs.ReadASN1Element(&serial, cbasn1.INTEGER) && tbs.SkipASN1(cbasn1.SEQUENCE))
		b.AddBytes(version)
		b.AddBytes(serial)
		b.AddBytes(alg)
		b.AddBytes(tbs)
	})
	return signedDER(t, b.BytesOrPanic(), alg, sig.Bytes)
}

// TestRootSignatureAlgorithmParameters: a root whose ECDSA signature
// algorithm, with SHA-1, SHA-256, SHA-384 or SHA-512, carries parameters
// (a NULL), which RFC 5758 §3.2 and RFC 3279 §2.2.3 have absent, is
// refused (ErrUsage) by NewVerifier, whichever algorithms the verifier
// allows: a root's own algorithm is not on its allow-list.
func TestRootSignatureAlgorithmParameters(t *testing.T) {
	h := newHierarchy(t)
	for _, e := range []struct {
		id   asn1.ObjectIdentifier
		name string
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, "ecdsa-with-SHA1"},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, "ecdsa-with-SHA256"},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, "ecdsa-with-SHA384"},
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, "ecdsa-with-SHA512"},
	} {
		oid, err := asn1.Marshal(e.id)
		require.NoError(t, err)
		alg := append([]byte{0x30, byte(len(oid) + 2)}, append(oid, 0x05, 0x00)...)
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{withSignatureAlgorithm(t, h.root.DER(), alg)}})
		assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: "root 0 signature algorithm " + e.name + " with parameters, which RFC 5758 has absent"}, err, e.name)
	}
}

// TestVerifyCAEmptyExtKeyUsage: a CA presented whose extended key usage
// is an empty SEQUENCE, which crypto/x509 parses and RFC 5280 has of one
// KeyPurposeId or more, is refused (ErrUsage) for it, not taken as a CA
// without an extended key usage.
func TestVerifyCAEmptyExtKeyUsage(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
	ca := caTemplateOf(func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Value: []byte{0x30, 0x00}}}
	})
	vc, err := v.VerifyCard(h.subCAChain(t, newKey(t), ca, cardTemplate(t, testICCID)))
	assert.Nil(t, vc)
	assert.Equal(t, &Error{Err: ErrUsage, Cert: 1, Reason: "extended key usage",
		Cause: &Error{Err: ErrUsage, Cert: -1, Reason: "empty extended key usage extension"}}, err)
}

// TestNewIntermediateEqualPathLength: a CA of path length 1 below one of
// path length 1 is left room for no CA by its issuer's, as crypto/x509
// counts path lengths: NewIntermediate refuses it (ErrUsage), naming its
// issuer.
func TestNewIntermediateEqualPathLength(t *testing.T) {
	opts := func(name string, pathLen int) CAOptions {
		return CAOptions{Subject: pkix.Name{CommonName: name}, CRLURL: "http://pki.example/" + name + ".crl", Now: fixed(t0), MaxPathLen: pathLen}
	}
	root, err := NewRoot(newKey(t), opts("root", -1))
	require.NoError(t, err)
	upper, err := root.NewIntermediate(newKey(t), opts("upper", 1))
	require.NoError(t, err)
	midKey := newKey(t)
	midDER := issueRaw(t, upper, caTemplateOf(func(c *x509.Certificate) {
		c.Subject, c.MaxPathLen = pkix.Name{CommonName: "mid"}, 1
	}), midKey.Public())
	mid, err := LoadCA(midKey, midDER, upper.Chain(), opts("mid", 0))
	require.NoError(t, err)
	below, err := mid.NewIntermediate(newKey(t), opts("below", 0))
	assert.Nil(t, below)
	assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: "a CA below this one is left nothing to certify by the path length of issuer 1"}, err)
}

// TestExtKeyUsagesMalformed: ExtKeyUsages refuses (ErrUsage) an extended
// key usage with bytes after its SEQUENCE or without a KeyPurposeId.
func TestExtKeyUsagesMalformed(t *testing.T) {
	ext, err := ekuExtension(OIDCardAuth)
	require.NoError(t, err)
	for _, tt := range []struct {
		name, reason string
		value        []byte
	}{
		{"bytes after its SEQUENCE", "malformed extended key usage extension", append(ext.Value, 0x05, 0x00)},
		{"an empty SEQUENCE", "empty extended key usage extension", []byte{0x30, 0x00}},
	} {
		oids, err := ExtKeyUsages(&x509.Certificate{Extensions: []pkix.Extension{{Id: oidExtKeyUsage, Value: tt.value}}})
		assert.Nil(t, oids, tt.name)
		assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: tt.reason}, err, tt.name)
	}
}

// TestNewVerifierIntermediateOfAnotherIssuerName: an intermediate signed
// by a root's key and naming it by key identifier, whose issuer is
// another name than the root's subject, chains to no root: NewVerifier
// refuses it (ErrUntrusted).
func TestNewVerifierIntermediateOfAnotherIssuerName(t *testing.T) {
	h := newHierarchy(t)
	parent := *h.root.Certificate()
	parent.RawSubject, parent.Subject = nil, pkix.Name{CommonName: "another root"}
	tmpl := caTemplateOf(func(c *x509.Certificate) {
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(7), t0, t0.Add(time.Hour)
		c.CRLDistributionPoints = []string{"http://pki.example/root.crl"}
	})
	ca := createCert(t, tmpl, &parent, newKey(t).Public(), h.root.Signer())
	require.Equal(t, h.root.Certificate().SubjectKeyId, mustParse(t, ca).AuthorityKeyId)
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
	assert.Nil(t, v)
	assert.Equal(t, &Error{Err: ErrUntrusted, Cert: -1, Reason: "intermediate 0 does not chain to a root"}, err)
}

// TestVerifyCardEmptyPolicyQualifiers: a card certificate whose
// PolicyInformation has an empty SEQUENCE of policyQualifiers, which RFC
// 5280 §4.2.1.4 has of one or more and crypto/x509 does not read, is
// refused (ErrUsage) as a certificatePolicies not in DER.
func TestVerifyCardEmptyPolicyQualifiers(t *testing.T) {
	anyPolicy := []byte{0x06, 0x04, 0x55, 0x1d, 0x20, 0x00} // 2.5.29.32.0
	value := append([]byte{0x30, 0x0a, 0x30, 0x08}, append(anyPolicy, 0x30, 0x00)...)
	runReasons(t, []reasonCase{{
		name: "empty policyQualifiers",
		chain: withCard(card(func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidCertificatePolicies, Value: value})
		})),
		want: &Error{Err: ErrUsage, Cert: 0, Reason: "extension 2.5.29.32 (certificatePolicies) with more than its SEQUENCE of PolicyInformation, each a policyIdentifier and its policyQualifiers"},
	}})
}

// TestParseCertificateTwoExtKeyUsages: ParseCertificate refuses
// (ErrUntrusted) a card certificate carrying its extended key usage, of
// an arc beyond 64 bits, twice, as crypto/x509 refuses any extension
// carried twice.
func TestParseCertificateTwoExtKeyUsages(t *testing.T) {
	h := newHierarchy(t)
	twice := func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String) {
		b.AddBytes(ext)
		if id.Equal(oidExtKeyUsage) {
			b.AddBytes(ext)
		}
	}
	der := resigned(t, h.ca.Signer(), h.card, extensionsEdit(t, cbasn1.Tag(3).Constructed().ContextSpecific(), twice))
	c, err := ParseCertificate(der)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, ErrUntrusted)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "malformed certificate", pe.Reason)
}

// TestVerifyCardGeneralizedTime1950: a card certificate whose notBefore
// is 1950-01-01, the first instant a UTCTime holds, encoded as a
// GeneralizedTime, is refused (ErrUsage): RFC 5280 has a UTCTime there.
func TestVerifyCardGeneralizedTime1950(t *testing.T) {
	from := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)
	runReasons(t, []reasonCase{{
		name: "GeneralizedTime of 1950",
		chain: func(t *testing.T, h *hierarchy) [][]byte {
			der := issueRaw(t, h.ca, cardTemplate(t, testICCID), h.cardKey.Public())
			n := 0
			der = resigned(t, h.ca.Signer(), der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
				if n++; n != 5 { // the validity
					b.AddBytes(elem)
					return
				}
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1GeneralizedTime(from)
					b.AddASN1UTCTime(t0.Add(365 * 24 * time.Hour))
				})
			})
			require.Equal(t, from, mustParse(t, der).NotBefore)
			return append([][]byte{der}, h.ca.Chain()...)
		},
		want: &Error{Err: ErrUsage, Cert: 0, Reason: "notBefore encoded as GeneralizedTime in 1950, where RFC 5280 has a UTCTime"},
	}})
}
