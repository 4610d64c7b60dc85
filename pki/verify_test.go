package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func TestVerifyCard(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)

	vc, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	assert.Equal(t, testICCID, vc.CardID)
	assert.True(t, h.cardKey.PublicKey.Equal(vc.PublicKey))
	assert.Equal(t, t0.Add(DefaultCardValidity), vc.NotAfter)
	require.Len(t, vc.Chain, 3)
	assert.Equal(t, h.card, vc.Chain[0].Raw)
	assert.Equal(t, h.ca.DER(), vc.Chain[1].Raw)
	assert.Equal(t, h.root.DER(), vc.Chain[2].Raw)
}

// TestAlgorithmAllowList: an algorithm on the allow-list admits the
// certificates and the CRLs signed with it, one off it neither, each
// refused as ErrUsage and ErrCRL.
func TestAlgorithmAllowList(t *testing.T) {
	h := newHierarchy(t)
	sha512 := withCard(card(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA512 }))(t, h)
	crl512 := createCRL(t, h.ca, &x509.RevocationList{SignatureAlgorithm: x509.ECDSAWithSHA512})
	allowed := []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA512}

	v := newVerifier(t, h, newClock(t0), VerifierOptions{Algorithms: allowed})
	require.NoError(t, v.AddCRL(h.crls(t)[0]))
	require.NoError(t, v.AddCRL(crl512))
	vc, err := v.VerifyCard(sha512)
	require.NoError(t, err)
	assert.Equal(t, x509.ECDSAWithSHA512, vc.Chain[0].SignatureAlgorithm)

	v = newVerifier(t, h, newClock(t0), VerifierOptions{})
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "signature algorithm ECDSA-SHA512 not allowed"}, v.AddCRL(crl512))
	addCRLs(t, h, v)
	_, err = v.VerifyCard(sha512)
	assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: "signature algorithm ECDSA-SHA512 not allowed"}, err)
}

// TestAlgorithmAllowListRootCopy: a presented copy of a configured root,
// the same name and key in other bytes (a root issued again), is a root,
// whatever algorithm signs it, as the bytes of the configured root are:
// no path holds it below the root. A CA of another name under the same
// key is not.
func TestAlgorithmAllowListRootCopy(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	addCRLs(t, h, v)
	reissue := func(change func(c *x509.Certificate)) []byte {
		tmpl := *h.root.cert
		tmpl.SerialNumber = big.NewInt(2)
		tmpl.SignatureAlgorithm = x509.ECDSAWithSHA512
		change(&tmpl)
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, h.root.key.Public(), h.root.key)
		require.NoError(t, err)
		return der
	}
	copied := reissue(func(*x509.Certificate) {})
	vc, err := v.VerifyCard(append(h.chain(), copied))
	require.NoError(t, err)
	assert.Equal(t, h.root.cert.Raw, vc.Chain[len(vc.Chain)-1].Raw, "the path ends at the configured root")

	renamed := reissue(func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "another root"}; c.RawSubject = nil })
	_, err = v.VerifyCard(append(h.chain(), renamed))
	assert.Equal(t, &Error{Err: ErrUsage, Cert: 2, Reason: "signature algorithm ECDSA-SHA512 not allowed"}, err)

	// The root's name under another key is no copy of the root.
	other := newKey(t)
	tmpl := *h.root.cert
	tmpl.SerialNumber = big.NewInt(3)
	tmpl.PublicKey = other.Public()
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA512
	rekeyed, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, other.Public(), other)
	require.NoError(t, err)
	_, err = v.VerifyCard(append(h.chain(), rekeyed))
	assert.Equal(t, &Error{Err: ErrUsage, Cert: 2, Reason: "signature algorithm ECDSA-SHA512 not allowed"}, err)
}

// refusal is one chain the verifier must refuse with one exact error.
type refusal struct {
	name  string
	chain func(t *testing.T, h *hierarchy) [][]byte
	// setup changes the verifier options; nil keeps the defaults.
	opts func(o *VerifierOptions)
	// crls returns the CRLs to add; nil adds fresh empty CRLs of both CAs.
	crls func(t *testing.T, h *hierarchy) [][]byte
	// at is the verification time; zero means t0 + 1h.
	at   time.Time
	want error
	cert int
}

func withCard(tmpl func(t *testing.T, h *hierarchy) (*x509.Certificate, any)) func(t *testing.T, h *hierarchy) [][]byte {
	return func(t *testing.T, h *hierarchy) [][]byte {
		c, pub := tmpl(t, h)
		return append([][]byte{issueRaw(t, h.ca, c, pub)}, h.ca.Chain()...)
	}
}

func card(change func(c *x509.Certificate)) func(t *testing.T, h *hierarchy) (*x509.Certificate, any) {
	return func(t *testing.T, h *hierarchy) (*x509.Certificate, any) {
		c := cardTemplate(t, testICCID)
		change(c)
		return c, h.cardKey.Public()
	}
}

func ekuOf(t *testing.T, oids ...x509.OID) []pkix.Extension {
	ext, err := ekuExtension(oids...)
	require.NoError(t, err)
	return []pkix.Extension{ext}
}

func TestVerifyCardRefusals(t *testing.T) {
	other := newHierarchy(t)
	tests := []refusal{
		{
			name: "tampered signature",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				c := h.chain()
				c[0] = append([]byte(nil), c[0]...)
				c[0][len(c[0])-1] ^= 1
				return c
			},
			want: ErrUntrusted, cert: 0,
		},
		{
			name: "tampered card ID",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				c := h.chain()
				c[0] = append([]byte(nil), c[0]...)
				i := indexOf(c[0], []byte(testICCID[:19]))
				require.Positive(t, i)
				c[0][i+18] = '0' // another ICCID, same length
				return c
			},
			want: ErrUntrusted, cert: 0,
		},
		{
			name: "tampered intermediate",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				c := h.chain()
				c[1] = append([]byte(nil), c[1]...)
				c[1][len(c[1])-1] ^= 1
				return c
			},
			want: ErrUntrusted, cert: 1,
		},
		{
			name:  "expired",
			chain: withCard(card(func(c *x509.Certificate) { c.NotAfter = t0.Add(30 * time.Minute) })),
			want:  ErrExpired, cert: 0,
		},
		{
			name:  "not yet valid",
			chain: withCard(card(func(c *x509.Certificate) { c.NotBefore = t0.Add(2 * time.Hour) })),
			want:  ErrExpired, cert: 0,
		},
		{
			name:  "wrong EKU",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, mustOID("1.3.6.1.5.5.7.3.2")) })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "platform EKU",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDReceiptSigning) })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "card and platform EKU",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDCardAuth, OIDReceiptSigning) })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "any EKU",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDCardAuth, oidAnyEKU) })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "no EKU",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = nil })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "wrong key usage",
			chain: withCard(card(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "key usage certSign",
			chain: withCard(card(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "card is a CA",
			chain: withCard(card(func(c *x509.Certificate) { c.IsCA = true })),
			want:  ErrUsage, cert: 0,
		},
		{
			name: "P-384 card key",
			chain: withCard(func(t *testing.T, h *hierarchy) (*x509.Certificate, any) {
				k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
				require.NoError(t, err)
				return cardTemplate(t, testICCID), k.Public()
			}),
			want: ErrUsage, cert: 0,
		},
		{
			name:  "algorithm not allowed",
			chain: withCard(card(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA512 })),
			want:  ErrUsage, cert: 0,
		},
		{
			// crypto/x509 verifies no certificate signed with SHA-1: the
			// allow-list refuses it first.
			name:  "card signed with SHA-1",
			chain: withCard(card(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA1 })),
			want:  ErrUsage, cert: 0,
		},
		{
			name: "card CA signed with SHA-1",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				ca := *h.ca.Certificate() // issued again, by the root's key with SHA-1
				ca.SignatureAlgorithm = x509.ECDSAWithSHA1
				return [][]byte{h.card, issueRaw(t, h.root, &ca, ca.PublicKey)}
			},
			want: ErrUsage, cert: 1,
		},
		{
			name:  "algorithm allow-list",
			chain: withCard(card(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA384 })),
			opts:  func(o *VerifierOptions) { o.Algorithms = []x509.SignatureAlgorithm{x509.ECDSAWithSHA256} },
			crls:  func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want:  ErrUsage, cert: 0,
		},
		{
			name: "two SANs",
			chain: withCard(card(func(c *x509.Certificate) {
				c.URIs = append(c.URIs, &url.URL{Scheme: "urn", Opaque: "casim:card:" + testICCID2})
			})),
			want: ErrCardID, cert: 0,
		},
		{
			name:  "URI and DNS SAN",
			chain: withCard(card(func(c *x509.Certificate) { c.DNSNames = []string{"card.example"} })),
			want:  ErrCardID, cert: 0,
		},
		{
			name: "IP SAN only",
			chain: withCard(card(func(c *x509.Certificate) {
				c.URIs = nil
				c.IPAddresses = []net.IP{net.IPv4(10, 0, 0, 1)}
			})),
			want: ErrCardID, cert: 0,
		},
		{
			name:  "no SAN",
			chain: withCard(card(func(c *x509.Certificate) { c.URIs = nil })),
			want:  ErrCardID, cert: 0,
		},
		{
			name: "bad check digit",
			chain: withCard(card(func(c *x509.Certificate) {
				c.URIs = []*url.URL{{Scheme: "urn", Opaque: "casim:card:89014103211118510721"}}
			})),
			want: ErrCardID, cert: 0,
		},
		{
			name: "other URN",
			chain: withCard(card(func(c *x509.Certificate) {
				c.URIs = []*url.URL{{Scheme: "urn", Opaque: "casim:platform:" + testICCID}}
			})),
			want: ErrCardID, cert: 0,
		},
		{
			name:  "wrong root",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return other.chain() },
			want:  ErrUntrusted, cert: 1,
		},
		{
			name:  "missing intermediate",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return [][]byte{h.card} },
			want:  ErrUntrusted, cert: 0,
		},
		{
			name: "CA without keyCertSign",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return h.subCAChain(t, newKey(t), &x509.Certificate{
					Subject: pkix.Name{CommonName: "no certSign"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
				}, cardTemplate(t, testICCID))
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want: ErrUsage, cert: 1,
		},
		{
			name: "P-521 card CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
				require.NoError(t, err)
				tmpl := cardTemplate(t, testICCID)
				tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256 // allowed; only the key is not
				return h.subCAChain(t, k, &x509.Certificate{
					Subject: pkix.Name{CommonName: "P-521 CA"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				}, tmpl)
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want: ErrUsage, cert: 1,
		},
		{
			name: "card CA restricted to receipt signing",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return h.subCAChain(t, newKey(t), &x509.Certificate{
					Subject: pkix.Name{CommonName: "receipt CA"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
					ExtraExtensions: ekuOf(t, OIDReceiptSigning),
				}, cardTemplate(t, testICCID))
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want: ErrUsage, cert: 1,
		},
		{
			name:  "empty chain",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want:  ErrUntrusted, cert: -1,
		},
		{
			name:  "garbage",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return [][]byte{[]byte("not a certificate")} },
			want:  ErrUntrusted, cert: 0,
		},
		{
			name:  "revoked card",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			crls: func(t *testing.T, h *hierarchy) [][]byte {
				crls := h.crls(t)
				require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
				crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
				require.NoError(t, err)
				return append(crls, crl)
			},
			want: ErrRevoked, cert: 0,
		},
		{
			name:  "revoked card CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			crls:  caRevokedCRLs,
			want:  ErrRevoked, cert: 1,
		},
		{
			name:  "no CRL",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			crls:  func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want:  ErrCRL, cert: 0,
		},
		{
			name:  "no root CRL",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			crls:  func(t *testing.T, h *hierarchy) [][]byte { return h.crls(t)[1:] },
			want:  ErrCRL, cert: 1,
		},
		{
			name:  "stale CRL",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			at:    t0.Add(24*time.Hour + DefaultSkew + time.Second),
			want:  ErrCRL, cert: 0,
		},
		{
			name:  "stale CRL, revoked",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return h.chain() },
			crls: func(t *testing.T, h *hierarchy) [][]byte {
				require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
				return h.crls(t)
			},
			opts: func(o *VerifierOptions) { o.Revocation = RevocationBestEffort },
			at:   t0.Add(48 * time.Hour),
			want: ErrRevoked, cert: 0,
		},
	}
	runRefusals(t, tests)
}

// TestVerifyCardLeafProfile: a card certificate is refused (ErrUsage)
// unless its basic constraints and key usage are those that IssueCard
// writes (PROTOCOL.md §4.3): a critical basicConstraints, CA:FALSE without
// a path length, and a critical keyUsage with digitalSignature alone.
func TestVerifyCardLeafProfile(t *testing.T) {
	ext := func(id asn1.ObjectIdentifier, critical bool, value ...byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: id, Critical: critical, Value: value})
		}
	}
	bc := asn1.ObjectIdentifier{2, 5, 29, 19}
	runRefusals(t, []refusal{
		{
			name:  "no basicConstraints",
			chain: withCard(card(func(c *x509.Certificate) { c.BasicConstraintsValid = false })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "basicConstraints not critical",
			chain: withCard(card(ext(bc, false, 0x30, 0x00))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "basicConstraints with CA:FALSE encoded",
			chain: withCard(card(ext(bc, true, 0x30, 0x03, 0x01, 0x01, 0x00))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "basicConstraints with a path length",
			chain: withCard(card(ext(bc, true, 0x30, 0x03, 0x02, 0x01, 0x00))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "no keyUsage",
			chain: withCard(card(func(c *x509.Certificate) { c.KeyUsage = 0 })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "keyUsage not critical",
			chain: withCard(card(ext(x509OIDKeyUsage, false, 0x03, 0x02, 0x07, 0x80))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "keyUsage with keyEncipherment",
			chain: withCard(card(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "keyUsage with contentCommitment",
			chain: withCard(card(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageContentCommitment })),
			want:  ErrUsage, cert: 0,
		},
		{
			// Bit 9, beyond those crypto/x509 reads.
			name:  "keyUsage with a bit beyond decipherOnly",
			chain: withCard(card(ext(x509OIDKeyUsage, true, 0x03, 0x03, 0x06, 0x80, 0x40))),
			want:  ErrUsage, cert: 0,
		},
	})
}

// TestVerifyCardLeafExtensions: a card certificate is refused (ErrUsage)
// unless it carries the other extensions of PROTOCOL.md §4.3 as IssueCard
// writes them: a subject key identifier, not empty; a non-critical CRL
// distribution point, each of its points the full name of one URI or
// more, without reasons or CRL issuer; a non-critical extended key usage
// and a non-critical subject alternative name.
func TestVerifyCardLeafExtensions(t *testing.T) {
	const crlURL = "http://pki.example/card.crl"
	oidCRLDP := asn1.ObjectIdentifier{2, 5, 29, 31}
	ext := func(id asn1.ObjectIdentifier, critical bool, value []byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: id, Critical: critical, Value: value})
		}
	}
	// crldpOf builds the DER of a CRL distribution points extension of one
	// point, a full name of GeneralNames of tag, followed by the fields
	// after; crldp, of URIs.
	crldpOf := func(tag cbasn1.Tag, names []string, after ...byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, n := range names {
							b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
						}
					})
				})
				b.AddBytes(after)
			})
		})
		return b.BytesOrPanic()
	}
	crldp := func(uris []string, after ...byte) []byte {
		return crldpOf(cbasn1.Tag(6).ContextSpecific(), uris, after...)
	}
	reasons := []byte{0x81, 0x02, 0x07, 0x80}                                                    // [1] keyCompromise
	crlIssuer := append([]byte{0xa2, byte(2 + len(crlURL)), 0x86, byte(len(crlURL))}, crlURL...) // [2] a URI
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(CardURIPrefix + testICCID)}})
	require.NoError(t, err)
	criticalEKU := func(c *x509.Certificate) { c.ExtraExtensions[0].Critical = true }

	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	for name, change := range map[string]func(c *x509.Certificate){
		"as issued":               func(c *x509.Certificate) {},
		"two distribution points": func(c *x509.Certificate) { c.CRLDistributionPoints = []string{crlURL, crlURL + "2"} },
		"a point of two URIs":     ext(oidCRLDP, false, crldp([]string{crlURL, crlURL + "2"})),
	} {
		c, pub := card(change)(t, h)
		_, err := v.VerifyCard(append([][]byte{issueRaw(t, h.ca, c, pub)}, h.ca.Chain()...))
		require.NoError(t, err, name)
	}

	runRefusals(t, []refusal{
		{
			name:  "no subjectKeyIdentifier",
			chain: withCard(card(func(c *x509.Certificate) { c.SubjectKeyId = []byte{} })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "empty subjectKeyIdentifier",
			chain: withCard(card(ext(asn1.ObjectIdentifier{2, 5, 29, 14}, false, []byte{0x04, 0x00}))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "no cRLDistributionPoints",
			chain: withCard(card(func(c *x509.Certificate) { c.CRLDistributionPoints = []string{} })),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "empty cRLDistributionPoints",
			chain: withCard(card(ext(oidCRLDP, false, []byte{0x30, 0x00}))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "critical cRLDistributionPoints",
			chain: withCard(card(ext(oidCRLDP, true, crldp([]string{crlURL})))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "distribution point of no URI",
			chain: withCard(card(ext(oidCRLDP, false, crldp(nil)))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "distribution point of a DNS name, not a URI",
			chain: withCard(card(ext(oidCRLDP, false, crldpOf(cbasn1.Tag(2).ContextSpecific(), []string{"pki.example"})))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "distribution point with reasons",
			chain: withCard(card(ext(oidCRLDP, false, crldp([]string{crlURL}, reasons...)))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "distribution point with a CRL issuer",
			chain: withCard(card(ext(oidCRLDP, false, crldp([]string{crlURL}, crlIssuer...)))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "critical extKeyUsage",
			chain: withCard(card(criticalEKU)),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "critical subjectAltName",
			chain: withCard(card(func(c *x509.Certificate) { c.URIs = nil; ext(oidSubjectAltName, true, san)(c) })),
			want:  ErrUsage, cert: 0,
		},
	})
}

// TestVerifyCAProfile: a CA certificate, presented in a chain, given to
// NewVerifier as a root or an intermediate or to LoadCA, is refused
// (ErrUsage) unless its basicConstraints and keyUsage are critical, its
// key usage has keyCertSign and cRLSign and it has a subject key
// identifier, not empty, as PROTOCOL.md §4.3 has them: a CA without
// cRLSign signs no CRL that a verifier takes, and one without a subject
// key identifier no certificate that names its issuer by key identifier.
func TestVerifyCAProfile(t *testing.T) {
	ext := func(id asn1.ObjectIdentifier, value ...byte) func(c *x509.Certificate) {
		return func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: id, Value: value})
		}
	}
	for _, tt := range []struct {
		name   string
		change func(c *x509.Certificate)
	}{
		{"without cRLSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }},
		{"basicConstraints not critical", ext(oidBasicConstraints, 0x30, 0x03, 0x01, 0x01, 0xff)},
		{"keyUsage not critical", ext(oidKeyUsage, 0x03, 0x02, 0x01, 0x06)},
		{"without subjectKeyIdentifier", func(c *x509.Certificate) { c.SubjectKeyId = []byte{} }},
		{"empty subjectKeyIdentifier", ext(asn1.ObjectIdentifier{2, 5, 29, 14}, 0x04, 0x00)},
	} {
		runCARefusals(t, tt.name, tt.change)
		t.Run("root, "+tt.name, func(t *testing.T) {
			key := newKey(t)
			tmpl := caTemplateOf(tt.change)
			tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
			root := createCert(t, tmpl, tmpl, key.Public(), key)
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}})
			assert.ErrorIs(t, err, ErrUsage)
			assert.Nil(t, v)
		})
	}
	t.Run("intermediate without keyUsage", func(t *testing.T) {
		h := newHierarchy(t)
		ca := issueRaw(t, h.root, caTemplateOf(func(c *x509.Certificate) { c.KeyUsage = 0 }), newKey(t).Public())
		v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
		assert.ErrorIs(t, err, ErrUsage)
		assert.Nil(t, v)
	})
}

// TestVerifyAuthorityKeyID: every certificate below the root, the card,
// the platform and a CA presented or given to NewVerifier as an
// intermediate, is refused (ErrUsage) unless its authority key identifier
// holds a key identifier equal to the subject key identifier of its
// issuer on the path, as PROTOCOL.md §4.3 has it, though crypto/x509
// builds a path through a parent of another key identifier.
func TestVerifyAuthorityKeyID(t *testing.T) {
	other := bytes.Repeat([]byte{0x5a}, 20)
	aki := func(id []byte) func(c *x509.Certificate) { return func(c *x509.Certificate) { c.AuthorityKeyId = id } }
	caTmpl := func(id []byte) *x509.Certificate { return caTemplateOf(aki(id)) }
	runRefusals(t, []refusal{
		{
			name:  "card without authorityKeyIdentifier",
			chain: withCard(card(aki([]byte{}))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "card authorityKeyIdentifier of another key",
			chain: withCard(card(aki(other))),
			want:  ErrUsage, cert: 0,
		},
		{
			// An issuer name and serial number, without a key identifier.
			name: "card authorityKeyIdentifier without keyIdentifier",
			chain: withCard(card(func(c *x509.Certificate) {
				c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{
					Id: oidAuthorityKeyID, Value: []byte{0x30, 0x03, 0x82, 0x01, 0x01},
				})
			})),
			want: ErrUsage, cert: 0,
		},
		{
			name: "card CA without authorityKeyIdentifier",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return h.subCAChain(t, newKey(t), caTmpl([]byte{}), cardTemplate(t, testICCID))
			},
			want: ErrUsage, cert: 1,
		},
		{
			name: "card CA authorityKeyIdentifier of another key",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return h.subCAChain(t, newKey(t), caTmpl(other), cardTemplate(t, testICCID))
			},
			want: ErrUsage, cert: 1,
		},
	})

	t.Run("platform without authorityKeyIdentifier", func(t *testing.T) {
		h := newHierarchy(t)
		v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
		addCRLs(t, h, v)
		platform := issueRaw(t, h.ca, &x509.Certificate{
			Subject: pkix.Name{CommonName: "casimpay platform"}, KeyUsage: x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true, ExtraExtensions: ekuOf(t, OIDReceiptSigning), AuthorityKeyId: []byte{},
		}, newKey(t).Public())
		_, err := v.VerifyPlatform(append([][]byte{platform}, h.ca.Chain()...))
		requireRefusal(t, err, ErrUsage, 0)
	})
	for name, id := range map[string][]byte{"without authorityKeyIdentifier": {}, "authorityKeyIdentifier of another key": other} {
		t.Run("intermediate "+name, func(t *testing.T) {
			h := newHierarchy(t)
			requireIntermediateRefused(t, h, issueRaw(t, h.root, caTmpl(id), newKey(t).Public()))
		})
	}
}

// TestVerifyCACRLDistributionPoints: a CA certificate below the root,
// presented, given to NewVerifier as an intermediate or to LoadCA, is
// refused (ErrUsage) unless it carries the CRL distribution points of
// PROTOCOL.md §4.3, as a card's: where its issuer's CRL is published.
func TestVerifyCACRLDistributionPoints(t *testing.T) {
	for name, change := range map[string]func(c *x509.Certificate){
		"no cRLDistributionPoints": func(c *x509.Certificate) { c.CRLDistributionPoints = []string{} },
		"critical cRLDistributionPoints": func(c *x509.Certificate) {
			c.CRLDistributionPoints = []string{}
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{
				Id: oidCRLDistributionPoints, Critical: true,
				Value: append([]byte{0x30, 0x1f, 0x30, 0x1d, 0xa0, 0x1b, 0xa0, 0x19, 0x86, 0x17}, "http://pki.example/root"...),
			})
		},
	} {
		runCARefusals(t, name, change)
	}
}

// runCARefusals requires a CA certificate of caTemplateOf(change), issued
// by a root, to be refused (ErrUsage) when presented in a chain, given to
// NewVerifier as an intermediate and given to LoadCA, in subtests named
// after name.
func runCARefusals(t *testing.T, name string, change func(c *x509.Certificate)) {
	t.Run("presented, "+name, func(t *testing.T) {
		h := newHierarchy(t)
		v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
		_, err := v.VerifyCard(h.subCAChain(t, newKey(t), caTemplateOf(change), cardTemplate(t, testICCID)))
		requireRefusal(t, err, ErrUsage, 1)
	})
	t.Run("intermediate, "+name, func(t *testing.T) {
		h := newHierarchy(t)
		requireIntermediateRefused(t, h, issueRaw(t, h.root, caTemplateOf(change), newKey(t).Public()))
	})
	t.Run("loaded, "+name, func(t *testing.T) {
		h := newHierarchy(t)
		key := newKey(t)
		ca, err := LoadCA(key, issueRaw(t, h.root, caTemplateOf(change), key.Public()), nil, CAOptions{CRLURL: "http://pki.example/x.crl"})
		assert.ErrorIs(t, err, ErrUsage)
		assert.Nil(t, ca)
	})
}

// requireIntermediateRefused requires NewVerifier to refuse ca, a
// certificate issued by h's root, as an intermediate with ErrUsage.
func requireIntermediateRefused(t *testing.T, h *hierarchy, ca []byte) {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
	assert.ErrorIs(t, err, ErrUsage)
	assert.Nil(t, v)
}

// TestVerifyCardSerialWithin20Octets: a certificate below the root whose
// serial number is not positive or is longer than the 20 octets of RFC
// 5280 §4.1.2.2, which no CRL the verifier takes may list, is refused
// (ErrUsage); the largest serial of 20 octets is accepted.
func TestVerifyCardSerialWithin20Octets(t *testing.T) {
	top, over := maxSerial, overSerial
	serial := func(n *big.Int) func(c *x509.Certificate) { return func(c *x509.Certificate) { c.SerialNumber = n } }

	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	c, pub := card(serial(top))(t, h)
	_, err := v.VerifyCard(append([][]byte{issueRaw(t, h.ca, c, pub)}, h.ca.Chain()...))
	require.NoError(t, err, "a serial of 20 octets")

	runRefusals(t, []refusal{
		{
			name:  "card serial of 21 octets",
			chain: withCard(card(serial(over))),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "card serial zero",
			chain: withCard(card(serial(big.NewInt(0)))),
			want:  ErrUsage, cert: 0,
		},
		{
			name: "card CA serial of 21 octets",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return h.subCAChain(t, newKey(t), &x509.Certificate{
					Subject: pkix.Name{CommonName: "long serial CA"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SerialNumber: over,
				}, cardTemplate(t, testICCID))
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want: ErrUsage, cert: 1,
		},
	})
}

// runRefusals verifies the chain of each refusal against a new hierarchy
// and requires its error.
func runRefusals(t *testing.T, tests []refusal) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			chain := tt.chain(t, h)
			clk := newClock(t0.Add(time.Hour))
			var opts VerifierOptions
			if tt.opts != nil {
				tt.opts(&opts)
			}
			v := newVerifier(t, h, clk, opts)
			crls := h.crls(t)
			if tt.crls != nil {
				crls = tt.crls(t, h)
			}
			for _, crl := range crls {
				require.NoError(t, v.AddCRL(crl))
			}
			if !tt.at.IsZero() {
				clk.set(tt.at)
			}
			vc, err := v.VerifyCard(chain)
			assert.Nil(t, vc)
			require.ErrorIs(t, err, tt.want)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.cert, pe.Cert)
		})
	}
}

// secondCA returns the certificate of a CA issued by h's root, valid from
// notBefore for validity, that the path of no chain of h's card holds.
func (h *hierarchy) secondCA(t testing.TB, notBefore time.Time, validity time.Duration) []byte {
	t.Helper()
	return issueRaw(t, h.root, &x509.Certificate{
		Subject: pkix.Name{CommonName: "second CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: notBefore, NotAfter: notBefore.Add(validity),
	}, newKey(t).Public())
}

// caRevokedCRLs returns fresh CRLs of h's CAs, the root's last one listing
// the card CA.
func caRevokedCRLs(t *testing.T, h *hierarchy) [][]byte {
	t.Helper()
	crls := h.crls(t)
	require.NoError(t, h.root.Revoke(h.ca.Certificate().SerialNumber, ReasonCACompromise))
	crl, err := h.root.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	return append(crls, crl)
}

// TestVerifyCardRefusalPresentedPosition: Error.Cert is the position of
// the certificate at fault in the chain presented, not in the path built,
// when a certificate the path does not hold comes before it.
func TestVerifyCardRefusalPresentedPosition(t *testing.T) {
	second := func(t *testing.T, h *hierarchy) []byte { return h.secondCA(t, t0, 365*24*time.Hour) }
	runRefusals(t, []refusal{
		{
			name:  "card CA revoked, presented after a second CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return [][]byte{h.card, second(t, h), h.ca.DER()} },
			crls:  caRevokedCRLs,
			want:  ErrRevoked, cert: 2,
		},
		{
			name: "card CA restricted to receipt signing, presented after a second CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				chain := h.subCAChain(t, newKey(t), &x509.Certificate{
					Subject: pkix.Name{CommonName: "receipt CA"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
					ExtraExtensions: ekuOf(t, OIDReceiptSigning),
				}, cardTemplate(t, testICCID))
				return [][]byte{chain[0], second(t, h), chain[1]}
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want: ErrUsage, cert: 2,
		},
		{
			name:  "no CRL of the card CA, presented after a second CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte { return [][]byte{h.card, second(t, h), h.ca.DER()} },
			crls:  func(t *testing.T, h *hierarchy) [][]byte { return h.crls(t)[:1] },
			want:  ErrCRL, cert: 0,
		},
	})
}

// TestVerifyCardRefusalOrder: a chain that fails two checks is refused by
// the one that comes first in PROTOCOL.md §4.5, whatever the second.
func TestVerifyCardRefusalOrder(t *testing.T) {
	other := newHierarchy(t)
	expired := func(c *x509.Certificate) { c.NotAfter = t0.Add(30 * time.Minute) }
	// revoked has h's card CA revoke the card it issues, before the
	// test's CRLs are made.
	revoked := func(change func(c *x509.Certificate)) func(t *testing.T, h *hierarchy) [][]byte {
		return func(t *testing.T, h *hierarchy) [][]byte {
			chain := withCard(card(change))(t, h)
			require.NoError(t, h.ca.Revoke(mustParse(t, chain[0]).SerialNumber, ReasonKeyCompromise))
			return chain
		}
	}
	runRefusals(t, []refusal{
		{
			name: "a non-CA intermediate, then an unparsable certificate",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				return [][]byte{h.card, h.card, []byte("not a certificate")}
			},
			want: ErrUntrusted, cert: 2,
		},
		{
			name: "expired, from an unknown CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				c := cardTemplate(t, testICCID)
				expired(c)
				return append([][]byte{issueRaw(t, other.ca, c, h.cardKey.Public())}, other.ca.Chain()...)
			},
			want: ErrExpired, cert: 0,
		},
		{
			name:  "revoked and expired",
			chain: revoked(expired),
			want:  ErrExpired, cert: 0,
		},
		{
			name: "signed with SHA-1 and expired",
			chain: withCard(card(func(c *x509.Certificate) {
				expired(c)
				c.SignatureAlgorithm = x509.ECDSAWithSHA1
			})),
			want: ErrUsage, cert: 0,
		},
		{
			name:  "revoked, with a wrong EKU",
			chain: revoked(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDReceiptSigning) }),
			want:  ErrUsage, cert: 0,
		},
		{
			name:  "revoked, without a card URI",
			chain: revoked(func(c *x509.Certificate) { c.URIs = nil }),
			want:  ErrCardID, cert: 0,
		},
		{
			name:  "a wrong EKU, no CRL",
			chain: withCard(card(func(c *x509.Certificate) { c.ExtraExtensions = ekuOf(t, OIDReceiptSigning) })),
			crls:  func(t *testing.T, h *hierarchy) [][]byte { return nil },
			want:  ErrUsage, cert: 0,
		},
		{
			name: "card CA revoked, no CRL of the card CA",
			chain: func(t *testing.T, h *hierarchy) [][]byte {
				require.NoError(t, h.root.Revoke(h.ca.Certificate().SerialNumber, ReasonCACompromise))
				return h.chain()
			},
			crls: func(t *testing.T, h *hierarchy) [][]byte { return h.crls(t)[:1] },
			want: ErrRevoked, cert: 1,
		},
		{
			name:  "revoked, the CRL stale",
			chain: revoked(func(*x509.Certificate) {}),
			at:    t0.Add(24*time.Hour + DefaultSkew + time.Second),
			want:  ErrRevoked, cert: 0,
		},
	})
}

// TestVerifierCopiesItsInput: a caller that reuses the buffers it gave
// NewVerifier or VerifyCard changes nothing in the verifier: its roots and
// intermediates, and the chains its cache serves, stay as given.
func TestVerifierCopiesItsInput(t *testing.T) {
	h := newHierarchy(t)
	roots, inters := [][]byte{h.root.DER()}, [][]byte{h.ca.DER()}
	v, err := NewVerifier(VerifierOptions{Roots: roots, Intermediates: inters, Now: fixed(t0.Add(time.Hour))})
	require.NoError(t, err)
	clear(roots[0])
	clear(inters[0])
	addCRLs(t, h, v)

	chain := cloneAll(h.chain())
	vc, err := v.VerifyCard(chain)
	require.NoError(t, err)
	for _, der := range chain {
		clear(der)
	}
	again, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	assert.Same(t, vc.Chain[0], again.Chain[0], "served from the cache")
	for i, der := range append(h.chain(), h.root.DER()) {
		assert.Equal(t, der, again.Chain[i].Raw, "certificate %d", i)
	}
}

// requireRefusal checks that err is nil when want is, and otherwise an
// *Error matching want about the certificate at position cert.
func requireRefusal(t *testing.T, err, want error, cert int) {
	t.Helper()
	if want == nil {
		assert.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, want)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, cert, pe.Cert)
}

// subCAChain returns the chain of a card certificate from card, for the
// hierarchy's card key, issued by a CA of key made from ca under the root.
func (h *hierarchy) subCAChain(t testing.TB, key crypto.Signer, ca, card *x509.Certificate) [][]byte {
	t.Helper()
	caDER := issueRaw(t, h.root, ca, key.Public())
	sub := &CA{cert: mustParse(t, caDER), key: key, crlURL: "http://pki.example/x.crl"}
	return [][]byte{issueRaw(t, sub, card, h.cardKey.Public()), caDER}
}

func mustParse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

func TestVerifyCardDepth(t *testing.T) {
	// newCA issues the CA as another tool may, with the path length
	// asked for, where NewIntermediate cuts it to what the root leaves.
	newCA := func(t *testing.T, parent *CA, name string, maxPathLen int) *CA {
		key := newKey(t)
		der := issueRaw(t, parent, caTemplateOf(func(c *x509.Certificate) {
			c.Subject = pkix.Name{CommonName: name}
			c.MaxPathLen, c.MaxPathLenZero = maxPathLen, maxPathLen == 0
		}), key.Public())
		return &CA{
			cert: mustParse(t, der), key: key, issuers: parent.Chain(),
			crlURL: "http://pki.example/" + name + ".crl", now: fixed(t0), rand: rand.Reader,
		}
	}
	build := func(t *testing.T, rootPathLen int) (*CA, []*CA, [][]byte) {
		root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: rootPathLen})
		require.NoError(t, err)
		upper := newCA(t, root, "upper", -1)
		lower := newCA(t, upper, "lower", 0)
		card, err := lower.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
		require.NoError(t, err)
		return root, []*CA{root, upper, lower}, append([][]byte{card}, lower.Chain()...)
	}
	verifier := func(t *testing.T, root *CA, cas []*CA, maxDepth int) *Verifier {
		v, err := NewVerifier(VerifierOptions{
			Roots: [][]byte{root.DER()}, Intermediates: [][]byte{cas[1].DER(), cas[2].DER()},
			Now: fixed(t0.Add(time.Hour)), MaxDepth: maxDepth,
		})
		require.NoError(t, err)
		for _, ca := range cas {
			crl, err := ca.CRL(t0.Add(time.Hour * 24))
			require.NoError(t, err)
			require.NoError(t, v.AddCRL(crl))
		}
		return v
	}

	root, cas, chain := build(t, -1)
	require.Len(t, chain, 3)
	_, err := verifier(t, root, cas, 0).VerifyCard(chain)
	require.ErrorIs(t, err, ErrUntrusted, "four certificates exceed the default depth of three")
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, -1, pe.Cert)

	vc, err := verifier(t, root, cas, 4).VerifyCard(chain)
	require.NoError(t, err, "a depth limit of four admits the chain")
	assert.Len(t, vc.Chain, 4)

	_, err = verifier(t, root, cas, 3).VerifyCard(append(chain, root.DER()))
	assert.ErrorIs(t, err, ErrUntrusted, "presenting four certificates exceeds the limit")
	_, err = verifier(t, root, cas, 3).VerifyCard(append(chain, []byte("not a certificate")))
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, ErrUntrusted)
	assert.Equal(t, -1, pe.Cert, "refused before the fourth is parsed")

	root, cas, chain = build(t, 0) // the profile's root path length of 1
	_, err = verifier(t, root, cas, 4).VerifyCard(chain)
	assert.ErrorIs(t, err, ErrUntrusted, "the root's path length forbids two CAs below it")
}

// TestVerifyNameConstraints: crypto/x509 matches a URI against a CA's
// name constraints by its host, and refuses a URI without one whatever
// the constraints are; a card's URI (urn:casim:card:…) has none, so a card
// under a CA with any name constraint, of any type, is refused as
// ErrUsage, while the platform's certificate, without a subject
// alternative name, is not.
func TestVerifyNameConstraints(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
	for name, constrain := range map[string]func(c *x509.Certificate){
		"permitted DNS": func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"casim.example"} },
		"excluded DNS":  func(c *x509.Certificate) { c.ExcludedDNSDomains = []string{"casim.example"} },
		"permitted URI": func(c *x509.Certificate) { c.PermittedURIDomains = []string{"casim.example"} },
		"excluded URI":  func(c *x509.Certificate) { c.ExcludedURIDomains = []string{"casim.example"} },
		"permitted IP": func(c *x509.Certificate) {
			c.PermittedIPRanges = []*net.IPNet{{IP: net.IPv4(192, 0, 2, 0), Mask: net.CIDRMask(24, 32)}}
		},
		"permitted email": func(c *x509.Certificate) { c.PermittedEmailAddresses = []string{"casim.example"} },
	} {
		t.Run(name, func(t *testing.T) {
			key := newKey(t)
			tmpl := &x509.Certificate{
				Subject: pkix.Name{CommonName: "constrained CA"}, IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, PermittedDNSDomainsCritical: true,
			}
			constrain(tmpl)
			chain := h.subCAChain(t, key, tmpl, cardTemplate(t, testICCID))
			_, err := v.VerifyCard(chain)
			requireRefusal(t, err, ErrUsage, 0)

			sub := &CA{cert: mustParse(t, chain[1]), key: key, crlURL: "http://pki.example/x.crl"}
			platform := issueRaw(t, sub, &x509.Certificate{
				SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "platform"},
				NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
				BasicConstraintsValid: true, ExtraExtensions: ekuOf(t, OIDReceiptSigning),
			}, h.cardKey.Public())
			_, err = v.VerifyPlatform([][]byte{platform, chain[1]})
			assert.NoError(t, err)
		})
	}
}

// TestCAExtKeyUsage: an extended key usage on a CA limits the roles of the
// certificates below it to the ones it lists (or any, with
// anyExtendedKeyUsage).
func TestCAExtKeyUsage(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
	tests := []struct {
		name         string
		eku          []x509.OID
		card, platfm error
	}{
		{"card authentication", []x509.OID{OIDCardAuth}, nil, ErrUsage},
		{"receipt signing", []x509.OID{OIDReceiptSigning}, ErrUsage, nil},
		{"both", []x509.OID{OIDCardAuth, OIDReceiptSigning}, nil, nil},
		{"any", []x509.OID{oidAnyEKU}, nil, nil},
		{"client authentication", []x509.OID{mustOID("1.3.6.1.5.5.7.3.2")}, ErrUsage, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t)
			caDER := issueRaw(t, h.root, &x509.Certificate{
				Subject: pkix.Name{CommonName: "restricted CA"}, IsCA: true, BasicConstraintsValid: true,
				KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				ExtraExtensions: ekuOf(t, tt.eku...),
			}, k.Public())
			sub := &CA{cert: mustParse(t, caDER), key: k, crlURL: "http://pki.example/x.crl", now: fixed(t0), rand: rand.Reader}
			card, err := sub.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{})
			require.NoError(t, err)
			platform, err := sub.IssuePlatform(newKey(t).Public(), "casimpay platform", IssueOptions{})
			require.NoError(t, err)

			_, err = v.VerifyCard([][]byte{card, caDER})
			requireRefusal(t, err, tt.card, 1)
			_, err = v.VerifyPlatform([][]byte{platform, caDER})
			requireRefusal(t, err, tt.platfm, 1)
		})
	}
}

// TestRootExtKeyUsage: an extended key usage on the root limits the roles of
// the chains below it as one on a card-issuing CA does (PROTOCOL.md §4.5,
// "every CA").
func TestRootExtKeyUsage(t *testing.T) {
	tests := []struct {
		name         string
		eku          []x509.OID
		card, platfm error
	}{
		{"none", nil, nil, nil},
		{"card authentication", []x509.OID{OIDCardAuth}, nil, ErrUsage},
		{"receipt signing", []x509.OID{OIDReceiptSigning}, ErrUsage, nil},
		{"any", []x509.OID{oidAnyEKU}, nil, nil},
		{"client authentication", []x509.OID{mustOID("1.3.6.1.5.5.7.3.2")}, ErrUsage, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootKey := newKey(t)
			skid, err := keyID(&rootKey.PublicKey)
			require.NoError(t, err)
			serial, err := randomSerial(rand.Reader)
			require.NoError(t, err)
			tmpl := &x509.Certificate{
				SerialNumber: serial, Subject: pkix.Name{CommonName: "restricted root"},
				NotBefore: t0, NotAfter: t0.Add(10 * 365 * 24 * time.Hour),
				IsCA: true, BasicConstraintsValid: true, MaxPathLen: 1,
				KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				SubjectKeyId: skid, AuthorityKeyId: skid,
			}
			if tt.eku != nil {
				tmpl.ExtraExtensions = ekuOf(t, tt.eku...)
			}
			rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
			require.NoError(t, err)
			root := &CA{cert: mustParse(t, rootDER), key: rootKey, crlURL: "http://pki.example/root.crl", now: fixed(t0), rand: rand.Reader, root: true, room: 1}
			ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
			require.NoError(t, err)
			card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
			require.NoError(t, err)
			platform, err := ca.IssuePlatform(newKey(t).Public(), "casimpay platform", IssueOptions{})
			require.NoError(t, err)
			v, err := NewVerifier(VerifierOptions{
				Roots: [][]byte{rootDER}, Now: fixed(t0.Add(time.Hour)), Revocation: RevocationBestEffort,
			})
			require.NoError(t, err)

			require.Len(t, ca.Chain(), 1, "the root is not presented")
			_, err = v.VerifyCard(append([][]byte{card}, ca.Chain()...))
			requireRefusal(t, err, tt.card, -1) // the root, not presented
			_, err = v.VerifyPlatform(append([][]byte{platform}, ca.Chain()...))
			requireRefusal(t, err, tt.platfm, -1)
			_, err = v.VerifyCard([][]byte{card, ca.DER(), rootDER})
			requireRefusal(t, err, tt.card, 2) // the root, presented third
		})
	}
}

// TestNewVerifierRootAsIntermediate: a self-signed certificate given
// among the intermediates, the verifier's own root or another, is refused
// (ErrUsage) as a root, not an intermediate, whatever else it lacks of
// one (a root has no CRL distribution points, say); a root that does
// carry them is refused as well.
func TestNewVerifierRootAsIntermediate(t *testing.T) {
	h := newHierarchy(t)
	other := newHierarchy(t)
	key := newKey(t)
	tmpl := caTemplateOf(func(c *x509.Certificate) {
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
		c.CRLDistributionPoints = []string{"http://pki.example/root.crl"}
	})
	withPoints := createCert(t, tmpl, tmpl, key.Public(), key)
	for name, tt := range map[string]struct{ roots, inters [][]byte }{
		"its own root":         {[][]byte{h.root.DER()}, [][]byte{h.ca.DER(), h.root.DER()}},
		"another root":         {[][]byte{h.root.DER()}, [][]byte{other.root.DER()}},
		"root with CRL points": {[][]byte{withPoints}, [][]byte{withPoints}},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := NewVerifier(VerifierOptions{Roots: tt.roots, Intermediates: tt.inters})
			requireRefusal(t, err, ErrUsage, -1)
			assert.Nil(t, v)
			assert.Contains(t, err.Error(), "self-signed")
			assert.NotContains(t, err.Error(), "CRL distribution points")
		})
	}
}

// TestVerifyLeafUnhandledCriticalExtension: a card or platform
// certificate with a critical extension that crypto/x509 does not handle
// is refused as ErrUsage naming the extension, about certificate 0, as an
// intermediate with one is refused about its position: among the checks of
// the certificates as presented, so that an expired one is refused so too,
// and the same again from a verifier with a cache.
func TestVerifyLeafUnhandledCriticalExtension(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tmpl   func(t *testing.T) *x509.Certificate
		verify func(v *Verifier, chain [][]byte) error
	}{
		{"card", func(t *testing.T) *x509.Certificate { return cardTemplate(t, testICCID) }, func(v *Verifier, chain [][]byte) error {
			_, err := v.VerifyCard(chain)
			return err
		}},
		{"platform", func(t *testing.T) *x509.Certificate {
			return &x509.Certificate{
				Subject: pkix.Name{CommonName: "casimpay platform"}, KeyUsage: x509.KeyUsageDigitalSignature,
				BasicConstraintsValid: true, ExtraExtensions: ekuOf(t, OIDReceiptSigning),
			}
		}, func(v *Verifier, chain [][]byte) error {
			_, err := v.VerifyPlatform(chain)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			clk := newClock(t0.Add(time.Hour))
			v := newVerifier(t, h, clk, VerifierOptions{})
			addCRLs(t, h, v)
			c := tt.tmpl(t)
			c.ExtraExtensions = append(c.ExtraExtensions, unknownCritical)
			leaf := issueRaw(t, h.ca, c, newKey(t).Public())
			require.NotEmpty(t, mustParse(t, leaf).UnhandledCriticalExtensions)
			chain := append([][]byte{leaf}, h.ca.Chain()...)
			want := &Error{Err: ErrUsage, Cert: 0, Reason: "critical extension " + unknownCritical.Id.String() + ", which crypto/x509 does not handle"}
			expired := mustParse(t, leaf).NotAfter.Add(time.Hour)
			for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(time.Hour), expired, expired} {
				clk.set(at)
				assert.Equal(t, want, tt.verify(v, chain), "at %v", at)
			}
		})
	}
}

// TestVerifyCardMalformed: a certificate presented that does not parse is
// refused as ErrUntrusted about its position, with crypto/x509's error as
// the cause, said once, not wrapped in a refusal of ParseCertificate.
func TestVerifyCardMalformed(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	garbage := []byte("not a certificate")
	_, cause := x509.ParseCertificate(garbage)
	require.Error(t, cause)
	_, err := v.VerifyCard([][]byte{h.card, garbage})
	assert.Equal(t, &Error{Err: ErrUntrusted, Cert: 1, Reason: "malformed certificate", Cause: cause}, err)
}

// TestNewVerifierRootUnhandledCriticalExtension: a root that carries a
// critical extension crypto/x509 does not handle, which no chain verifies
// to (VerifyCard would refuse every chain as ErrUntrusted), is refused
// when the verifier is configured (ErrUsage), as a root with name
// constraints is.
func TestNewVerifierRootUnhandledCriticalExtension(t *testing.T) {
	key := newKey(t)
	tmpl := caTemplateOf(func(c *x509.Certificate) {
		c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
		c.ExtraExtensions = []pkix.Extension{unknownCritical}
	})
	root := createCert(t, tmpl, tmpl, key.Public(), key)
	require.NotEmpty(t, mustParse(t, root).UnhandledCriticalExtensions)
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}})
	requireRefusal(t, err, ErrUsage, -1)
	assert.Nil(t, v)
	assert.Contains(t, err.Error(), "critical extension")
}

// TestIntermediateUnhandledCriticalExtension: a CA certificate below the
// root that carries a critical extension crypto/x509 does not handle, no
// chain verifying through it, is refused as ErrUsage naming the extension
// and the certificate, as a root or a CA loaded with one is: presented in
// a card's chain (certificate 1), and given to NewVerifier as an
// intermediate (the second of Intermediates), not as a certificate that
// does not chain to a root.
func TestIntermediateUnhandledCriticalExtension(t *testing.T) {
	withExt := func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }
	runCARefusals(t, "unhandled critical extension", withExt)

	h := newHierarchy(t)
	ca := issueRaw(t, h.root, caTemplateOf(withExt), newKey(t).Public())
	require.NotEmpty(t, mustParse(t, ca).UnhandledCriticalExtensions)
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{h.ca.DER(), ca}})
	requireRefusal(t, err, ErrUsage, -1)
	assert.Nil(t, v)
	assert.Contains(t, err.Error(), "intermediate 1 with critical extension "+unknownCritical.Id.String())

	v = newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
	_, err = v.VerifyCard(h.subCAChain(t, newKey(t), caTemplateOf(withExt), cardTemplate(t, testICCID)))
	requireRefusal(t, err, ErrUsage, 1)
	assert.Contains(t, err.Error(), "critical extension "+unknownCritical.Id.String())
}

// TestNewVerifierAlteredRoot: a root given to NewVerifier whose bytes were
// altered after it was signed (its notAfter moved, or its signature
// changed), so that its own key no longer verifies it though it still
// names itself as its issuer, by name and key identifier, is refused as
// ErrUntrusted for its signature, as LoadCA refuses it.
func TestNewVerifierAlteredRoot(t *testing.T) {
	h := newHierarchy(t)
	notAfter := mustParse(t, h.root.DER()).NotAfter.UTC().Format("060102150405Z")
	for name, alter := range map[string]func(der []byte){
		"signature": func(der []byte) { der[len(der)-1] ^= 1 },
		"notAfter": func(der []byte) {
			i := indexOf(der, []byte(notAfter))
			require.GreaterOrEqual(t, i, 0)
			der[i+1]++ // a year later
		},
	} {
		t.Run(name, func(t *testing.T) {
			der := h.root.DER()
			alter(der)
			c := mustParse(t, der)
			require.Error(t, c.CheckSignatureFrom(c))
			require.Equal(t, c.RawSubject, c.RawIssuer)
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{der}, Intermediates: [][]byte{h.ca.DER()}})
			requireRefusal(t, err, ErrUntrusted, -1)
			assert.Nil(t, v)
			assert.Contains(t, err.Error(), "root 0 names itself as its issuer")
			assert.Contains(t, err.Error(), "signature does not verify")
		})
	}
	// crypto/x509 verifies no certificate signed with SHA-1, a root's own
	// included: such a root is refused as LoadCA refuses it, the cause
	// telling the algorithm from an altered signature.
	t.Run("signed with SHA-1", func(t *testing.T) {
		key := newKey(t)
		id, err := keyID(&key.PublicKey)
		require.NoError(t, err)
		tmpl := caTemplateOf(func(c *x509.Certificate) {
			c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
			c.SignatureAlgorithm = x509.ECDSAWithSHA1
			c.SubjectKeyId, c.AuthorityKeyId = id, id
		})
		root := createCert(t, tmpl, tmpl, key.Public(), key)
		require.True(t, namesItself(mustParse(t, root)))
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root}})
		requireRefusal(t, err, ErrUntrusted, -1)
		assert.ErrorAs(t, err, new(x509.InsecureAlgorithmError))
		_, err = LoadCA(key, root, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
		requireRefusal(t, err, ErrUntrusted, -1)
		assert.ErrorAs(t, err, new(x509.InsecureAlgorithmError))
	})
}

// validityTime returns der, a certificate signed with ECDSA with SHA-256,
// with its notBefore (which 0) or notAfter (which 1), a UTCTime, written by
// encode instead, signed again by signer.
func validityTime(t testing.TB, signer crypto.Signer, der []byte, which int, encode func(b *cryptobyte.Builder, at time.Time)) []byte {
	t.Helper()
	seqs := 0
	out := resigned(t, signer, der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		if tag != cbasn1.SEQUENCE {
			b.AddBytes(elem)
			return
		}
		if seqs++; seqs != 3 { // the signature algorithm, the issuer, the validity
			b.AddBytes(elem)
			return
		}
		var validity cryptobyte.String
		require.True(t, elem.ReadASN1(&validity, cbasn1.SEQUENCE))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for i := range 2 {
				var at time.Time
				require.True(t, validity.ReadASN1UTCTime(&at), "a UTCTime")
				if i == which {
					encode(b, at)
				} else {
					b.AddASN1UTCTime(at)
				}
			}
		})
	})
	before, after := mustParse(t, der), mustParse(t, out)
	require.True(t, before.NotBefore.Equal(after.NotBefore) && before.NotAfter.Equal(after.NotAfter), "the same validity")
	return out
}

// TestCertificateTimesOutsideRFC5280: a certificate whose notBefore or
// notAfter of a year through 2049 (from 1950, the years a UTCTime holds)
// is encoded otherwise than as a UTCTime in UTC with seconds
// (misencodedTimes), which crypto/x509 takes, is refused as ErrUsage, RFC
// 5280 §4.1.2.5 having that form: a card or CA certificate presented (by
// its position), a root or an intermediate given to NewVerifier, and a CA
// certificate given to LoadCA. A card whose notAfter of 2050 is a
// GeneralizedTime, as RFC 5280 has it, is accepted.
func TestCertificateTimesOutsideRFC5280(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	for which, field := range []string{"notBefore", "notAfter"} {
		for name, enc := range misencodedTimes {
			t.Run(field+", "+name, func(t *testing.T) {
				card := validityTime(t, h.ca.Signer(), h.card, which, enc.encode)
				_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
				requireRefusal(t, err, ErrUsage, 0)
				assert.Contains(t, err.Error(), field+" "+enc.why)

				ca := validityTime(t, h.root.Signer(), h.ca.DER(), which, enc.encode)
				_, err = v.VerifyCard([][]byte{h.card, ca})
				requireRefusal(t, err, ErrUsage, 1)
				assert.Contains(t, err.Error(), field+" "+enc.why)

				_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
				requireRefusal(t, err, ErrUsage, -1)
				assert.Contains(t, err.Error(), "intermediate 0 "+field+" "+enc.why)

				root := validityTime(t, h.root.Signer(), h.root.DER(), which, enc.encode)
				_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{h.ca.DER()}})
				requireRefusal(t, err, ErrUsage, -1)
				assert.Contains(t, err.Error(), "root 0 "+field+" "+enc.why)

				_, err = LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
				requireRefusal(t, err, ErrUsage, -1)
				_, err = LoadCA(h.root.Signer(), root, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
				requireRefusal(t, err, ErrUsage, -1)
			})
		}
	}
	t.Run("notAfter in 2050", func(t *testing.T) {
		tmpl := cardTemplate(t, testICCID)
		tmpl.NotAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
		card := issueRaw(t, h.ca, tmpl, h.cardKey.Public())
		require.True(t, bytes.Contains(card, []byte("20500101000000Z")), "a GeneralizedTime")
		_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
		assert.NoError(t, err)
	})
}

// withExtensionValue returns der, a certificate signed with ECDSA with
// SHA-256, with the value of its extension id replaced by value, its
// critical kept, signed again by signer.
func withExtensionValue(t testing.TB, signer crypto.Signer, der []byte, id asn1.ObjectIdentifier, value []byte) []byte {
	t.Helper()
	return withExtension(t, signer, der, id, func(b *cryptobyte.Builder, critical, _ cryptobyte.String, present bool) {
		if present {
			b.AddASN1(cbasn1.BOOLEAN, func(b *cryptobyte.Builder) { b.AddBytes(critical) })
		}
		b.AddASN1OctetString(value)
	})
}

// TestCAExtensionValueEncoding: a CA certificate whose basicConstraints,
// keyUsage or key identifier value is not the one DER encoding of what it
// holds is refused by LoadCA and as an intermediate presented, and, for a
// basicConstraints or keyUsage, by NewVerifier as a root or an
// intermediate, each naming the certificate: one with a length or an
// INTEGER not in its shortest form (the pathLenConstraint with a leading
// zero octet), which crypto/x509 refuses to parse, as malformed
// (ErrUntrusted); one with bytes after the value, a field after those of a
// basicConstraints or an authorityKeyIdentifier or a keyUsage with
// trailing zero bits, which crypto/x509 takes, with ErrUsage naming the
// extension, as a card presented is. The same values in DER are taken.
// The card CA's basicConstraints is CA:TRUE of path length 0, its keyUsage
// keyCertSign and cRLSign; the root is given each of those values too.
func TestCAExtensionValueEncoding(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	const (
		badBC = "x509: invalid basic constraints"
		badKU = "x509: invalid key usage"
		// Refusals of what crypto/x509 takes.
		moreBC   = "extension 2.5.29.19 (basicConstraints) with more than its SEQUENCE of cA and pathLenConstraint"
		zeroBits = "extension 2.5.29.15 (keyUsage) with trailing zero bits, which DER leaves out"
		moreAKI  = "extension 2.5.29.35 (authorityKeyIdentifier) with more than its SEQUENCE of keyIdentifier, authorityCertIssuer and authorityCertSerialNumber"
	)
	for _, tt := range []struct {
		name  string
		id    asn1.ObjectIdentifier
		value []byte
		want  error  // nil: taken
		why   string // of a refusal: crypto/x509's error, or the reason after the certificate's name
	}{
		{"basicConstraints in DER", oidBasicConstraints, []byte{0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00}, nil, ""},
		{"pathLenConstraint with a leading zero octet", oidBasicConstraints, []byte{0x30, 0x07, 0x01, 0x01, 0xff, 0x02, 0x02, 0x00, 0x00}, ErrUntrusted, badBC},
		{"basicConstraints of a long-form length", oidBasicConstraints, []byte{0x30, 0x81, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00}, ErrUntrusted, badBC},
		{"pathLenConstraint of a long-form length", oidBasicConstraints, []byte{0x30, 0x07, 0x01, 0x01, 0xff, 0x02, 0x81, 0x01, 0x00}, ErrUntrusted, badBC},
		{"cA of a long-form length", oidBasicConstraints, []byte{0x30, 0x07, 0x01, 0x81, 0x01, 0xff, 0x02, 0x01, 0x00}, ErrUntrusted, badBC},
		{"keyUsage in DER", oidKeyUsage, []byte{0x03, 0x02, 0x01, 0x06}, nil, ""},
		{"keyUsage of a long-form length", oidKeyUsage, []byte{0x03, 0x81, 0x02, 0x01, 0x06}, ErrUntrusted, badKU},
		{"basicConstraints followed by other bytes", oidBasicConstraints, []byte{0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00, 0x05, 0x00}, ErrUsage, moreBC},
		{"basicConstraints with a field after pathLenConstraint", oidBasicConstraints, []byte{0x30, 0x08, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00, 0x05, 0x00}, ErrUsage, moreBC},
		{"keyUsage followed by other bytes", oidKeyUsage, []byte{0x03, 0x02, 0x01, 0x06, 0x05, 0x00}, ErrUsage, "extension 2.5.29.15 (keyUsage) with more than its BIT STRING"},
		{"keyUsage with a trailing zero bit", oidKeyUsage, []byte{0x03, 0x02, 0x00, 0x06}, ErrUsage, zeroBits},
		{"keyUsage with a trailing zero octet", oidKeyUsage, []byte{0x03, 0x03, 0x07, 0x06, 0x00}, ErrUsage, zeroBits},
	} {
		t.Run(tt.name, func(t *testing.T) {
			refusal := func(what string) string {
				if tt.want == ErrUntrusted {
					return fmt.Sprintf("%v: %s is malformed: %s", tt.want, what, tt.why)
				}
				return fmt.Sprintf("%v: %s %s", tt.want, what, tt.why)
			}
			ca := withExtensionValue(t, h.root.Signer(), h.ca.DER(), tt.id, tt.value)
			root := withExtensionValue(t, h.root.Signer(), h.root.DER(), tt.id, tt.value)
			_, errLoad := LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
			_, errIntermediate := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
			_, errRoot := NewVerifier(VerifierOptions{Roots: [][]byte{root}})
			_, errPresented := v.VerifyCard([][]byte{h.card, ca})
			if tt.want == nil {
				assert.NoError(t, errLoad)
				assert.NoError(t, errIntermediate)
				assert.NoError(t, errRoot)
				assert.NoError(t, errPresented)
				return
			}
			assert.EqualError(t, errLoad, refusal("CA certificate"))
			assert.EqualError(t, errIntermediate, refusal("intermediate 0"))
			assert.EqualError(t, errRoot, refusal("root 0"))
			requireRefusal(t, errPresented, tt.want, 1)
			if tt.want == ErrUsage {
				assert.EqualError(t, errPresented, fmt.Sprintf("%v: certificate 1: %s", tt.want, tt.why))
			}
		})
	}
	// The key identifiers of a CA, as of every certificate, followed by
	// other bytes, or an authorityKeyIdentifier with a field after those it
	// has.
	ca := h.ca.Certificate()
	ski := append([]byte{0x04, byte(len(ca.SubjectKeyId))}, ca.SubjectKeyId...)
	aki := append([]byte{0x30, byte(len(ca.AuthorityKeyId) + 2), 0x80, byte(len(ca.AuthorityKeyId))}, ca.AuthorityKeyId...)
	akiField := append([]byte{0x30, byte(len(ca.AuthorityKeyId) + 4), 0x80, byte(len(ca.AuthorityKeyId))}, append(slices.Clone(ca.AuthorityKeyId), 0x05, 0x00)...)
	after := func(value []byte) []byte { return append(slices.Clone(value), 0x05, 0x00) }
	for _, tt := range []struct {
		name       string
		id         asn1.ObjectIdentifier
		inDER, bad []byte
		why        string
	}{
		{"subjectKeyIdentifier followed by other bytes", oidSubjectKeyID, ski, after(ski), "extension 2.5.29.14 (subjectKeyIdentifier) with more than its OCTET STRING"},
		{"authorityKeyIdentifier followed by other bytes", oidAuthorityKeyID, aki, after(aki), moreAKI},
		{"authorityKeyIdentifier with another field", oidAuthorityKeyID, aki, akiField, moreAKI},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCA(h.ca.Signer(), withExtensionValue(t, h.root.Signer(), h.ca.DER(), tt.id, tt.inDER), nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
			require.NoError(t, err, "the value in DER")
			bad := withExtensionValue(t, h.root.Signer(), h.ca.DER(), tt.id, tt.bad)
			_, err = LoadCA(h.ca.Signer(), bad, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
			assert.EqualError(t, err, fmt.Sprintf("%v: CA certificate %s", ErrUsage, tt.why))
			_, err = v.VerifyCard([][]byte{h.card, bad})
			assert.EqualError(t, err, fmt.Sprintf("%v: certificate 1: %s", ErrUsage, tt.why))
		})
	}

	// A card's keyUsage, digitalSignature alone, with a trailing zero bit:
	// refused as not in DER before the profile of a card is checked.
	card := withExtensionValue(t, h.ca.Signer(), h.card, oidKeyUsage, []byte{0x03, 0x02, 0x00, 0x80})
	_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
	assert.EqualError(t, err, fmt.Sprintf("%v: certificate 0: %s", ErrUsage, zeroBits))
}

// withExplicitNonCritical returns der, a certificate signed with ECDSA
// with SHA-256, with its non-critical extension id written with its
// critical BOOLEAN out as FALSE, signed again by signer.
func withExplicitNonCritical(t testing.TB, signer crypto.Signer, der []byte, id asn1.ObjectIdentifier) []byte {
	t.Helper()
	return withExtension(t, signer, der, id, func(b *cryptobyte.Builder, _, value cryptobyte.String, present bool) {
		require.False(t, present)
		b.AddASN1Boolean(false)
		b.AddASN1OctetString(value)
	})
}

// withExtension returns der, a certificate signed with ECDSA with
// SHA-256, with its extension id written again as its OID followed by what
// write adds, given the content of its critical BOOLEAN, if present, and
// its value, signed again by signer.
func withExtension(t testing.TB, signer crypto.Signer, der []byte, id asn1.ObjectIdentifier, write func(b *cryptobyte.Builder, critical, value cryptobyte.String, present bool)) []byte {
	t.Helper()
	edit := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, ext cryptobyte.String) {
		if !oid.Equal(id) {
			b.AddBytes(ext)
			return
		}
		var body, critical, value cryptobyte.String
		var present bool
		require.True(t, ext.ReadASN1(&body, cbasn1.SEQUENCE) && body.SkipASN1(cbasn1.OBJECT_IDENTIFIER) &&
			body.ReadOptionalASN1(&critical, &present, cbasn1.BOOLEAN) && body.ReadASN1(&value, cbasn1.OCTET_STRING))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			write(b, critical, value, present)
		})
	}
	return resigned(t, signer, der, extensionsEdit(t, cbasn1.Tag(3).Constructed().ContextSpecific(), edit))
}

// TestCertificateExplicitNonCritical: a certificate with an extension
// whose critical BOOLEAN is written out as FALSE, its DEFAULT, which DER
// leaves out (X.690 §11.5), and which crypto/x509 parses the same, is
// refused as ErrUsage: a card presented (its extended key usage, which
// ParseCertificate reads itself, or its subject key identifier), a CA
// presented (by its position), a root or an intermediate given to
// NewVerifier, and a CA given to LoadCA.
func TestCertificateExplicitNonCritical(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	oidSKI := asn1.ObjectIdentifier{2, 5, 29, 14}
	for name, id := range map[string]asn1.ObjectIdentifier{"extended key usage": oidExtKeyUsage, "subject key identifier": oidSKI} {
		t.Run("card "+name, func(t *testing.T) {
			card := withExplicitNonCritical(t, h.ca.Signer(), h.card, id)
			_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
			requireRefusal(t, err, ErrUsage, 0)
			assert.Contains(t, err.Error(), "critical written out as FALSE")
		})
	}
	ca := withExplicitNonCritical(t, h.root.Signer(), h.ca.DER(), oidSKI)
	_, err := v.VerifyCard([][]byte{h.card, ca})
	requireRefusal(t, err, ErrUsage, 1)
	assert.Contains(t, err.Error(), "critical written out as FALSE")
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
	requireRefusal(t, err, ErrUsage, -1)
	root := withExplicitNonCritical(t, h.root.Signer(), h.root.DER(), oidSKI)
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{h.ca.DER()}})
	requireRefusal(t, err, ErrUsage, -1)
	_, err = LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
	requireRefusal(t, err, ErrUsage, -1)
}

// TestCAExtKeyUsageEncoding: a CA certificate whose extKeyUsage value has
// bytes after its SEQUENCE, which crypto/x509 reads all the same, is
// refused (ErrUsage, naming the certificate and the extension) by LoadCA,
// by NewVerifier as a root or an intermediate, and as an intermediate
// presented, with the certificates as presented, where an intermediate
// configured or loaded was taken and the one presented refused only by
// the check of a path; the same extension in DER is taken. A card's
// extKeyUsage, with an object identifier that crypto/x509 does not read,
// followed by other bytes makes the card malformed (ErrUntrusted).
func TestCAExtKeyUsageEncoding(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	const why = "extension 2.5.29.37 (extKeyUsage) with more than its SEQUENCE of KeyPurposeId"
	eku := ekuOf(t, oidAnyEKU)
	after := append(slices.Clone(eku[0].Value), 0x05, 0x00)

	// The card CA, of the same name and key identifier, with an
	// extKeyUsage of anyExtendedKeyUsage, which crypto/x509 reads.
	parent := h.ca.Certificate()
	tmpl := caTemplateOf(func(c *x509.Certificate) {
		c.RawSubject, c.SubjectKeyId, c.ExtraExtensions = parent.RawSubject, parent.SubjectKeyId, eku
	})
	ca := issueRaw(t, h.root, tmpl, h.ca.Signer().Public())
	bad := withExtensionValue(t, h.root.Signer(), ca, oidExtKeyUsage, after)
	key := newKey(t)
	rootTmpl := caTemplateOf(func(c *x509.Certificate) { c.Subject.CommonName, c.ExtraExtensions = "root", eku })
	rootTmpl.SerialNumber, rootTmpl.NotBefore, rootTmpl.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
	root := createCert(t, rootTmpl, rootTmpl, key.Public(), key)
	badRoot := withExtensionValue(t, key, root, oidExtKeyUsage, after)

	t.Run("in DER", func(t *testing.T) {
		_, err := LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
		assert.NoError(t, err)
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
		assert.NoError(t, err)
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root}})
		assert.NoError(t, err)
		_, err = v.VerifyCard([][]byte{h.card, ca})
		assert.NoError(t, err)
	})
	t.Run("followed by other bytes", func(t *testing.T) {
		_, err := LoadCA(h.ca.Signer(), bad, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
		assert.EqualError(t, err, fmt.Sprintf("%v: CA certificate %s", ErrUsage, why))
		_, err = LoadCA(key, badRoot, nil, CAOptions{CRLURL: "http://pki.example/root.crl"})
		assert.EqualError(t, err, fmt.Sprintf("%v: CA certificate %s", ErrUsage, why))
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{bad}})
		assert.EqualError(t, err, fmt.Sprintf("%v: intermediate 0 %s", ErrUsage, why))
		_, err = NewVerifier(VerifierOptions{Roots: [][]byte{badRoot}})
		assert.EqualError(t, err, fmt.Sprintf("%v: root 0 %s", ErrUsage, why))
		_, err = v.VerifyCard([][]byte{h.card, bad})
		assert.EqualError(t, err, fmt.Sprintf("%v: certificate 1: %s", ErrUsage, why))
	})
	t.Run("card", func(t *testing.T) {
		value := mustParse(t, h.card)
		e, ok := extensionOf(value, oidExtKeyUsage)
		require.True(t, ok)
		card := withExtensionValue(t, h.ca.Signer(), h.card, oidExtKeyUsage, append(slices.Clone(e.Value), 0x05, 0x00))
		_, err := v.VerifyCard([][]byte{card, h.ca.DER()})
		requireRefusal(t, err, ErrUntrusted, 0)
	})
}

// TestCardExtensionValueEncoding: a card's subjectAltName or
// cRLDistributionPoints value that is not the one DER encoding of what it
// holds, which crypto/x509 reads all the same (bytes after its SEQUENCE,
// or after the fullName of a point), is refused by the reading of the
// card URI (ErrCardID) and of the distribution points of the profile
// (ErrUsage); one whose OBJECT IDENTIFIER of the extKeyUsage is not in
// its shortest form crypto/x509 and ParseCertificate refuse as malformed
// (ErrUntrusted).
func TestCardExtensionValueEncoding(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	c := mustParse(t, h.card)
	value := func(id asn1.ObjectIdentifier) []byte {
		e, ok := extensionOf(c, id)
		require.True(t, ok)
		return slices.Clone(e.Value)
	}
	san, crldp := value(oidSubjectAltName), value(oidCRLDistributionPoints)
	// The point's one URI, and the bytes after the fullName in its
	// DistributionPointName: SEQUENCE { SEQUENCE { [0] { [0] { URI }
	// NULL } } }.
	uri := crldp[6:]
	point := append(append([]byte{0x30, byte(len(uri) + 6), 0x30, byte(len(uri) + 4), 0xa0, byte(len(uri) + 2)}, uri...), 0x05, 0x00)
	require.Equal(t, []byte{0x30, byte(len(uri) + 4), 0x30, byte(len(uri) + 2), 0xa0, byte(len(uri))}, crldp[:6])
	for _, tt := range []struct {
		name  string
		id    asn1.ObjectIdentifier
		value []byte
		want  error
		why   string
	}{
		{"subjectAltName followed by other bytes", oidSubjectAltName, append(san, 0x05, 0x00), ErrCardID, "malformed subject alternative name"},
		{"cRLDistributionPoints followed by other bytes", oidCRLDistributionPoints, append(crldp, 0x05, 0x00), ErrUsage, crlDPWhy},
		{"bytes after the fullName of a point", oidCRLDistributionPoints, point, ErrUsage, crlDPWhy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			card := withExtensionValue(t, h.ca.Signer(), h.card, tt.id, tt.value)
			parsed := mustParse(t, card)
			require.Equal(t, c.URIs, parsed.URIs, "crypto/x509 reads the same URI")
			require.Equal(t, c.CRLDistributionPoints, parsed.CRLDistributionPoints, "and the same distribution point")
			_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
			assert.EqualError(t, err, fmt.Sprintf("%v: certificate 0: %s", tt.want, tt.why))
		})
	}
	t.Run("extKeyUsage OBJECT IDENTIFIER not in its shortest form", func(t *testing.T) {
		eku := value(oidExtKeyUsage)
		require.Equal(t, []byte{0x30, eku[3] + 2, 0x06}, eku[:3], "one OBJECT IDENTIFIER")
		// pad is written between the first octet of the OBJECT IDENTIFIER
		// (of the arcs 2.25) and the first octet of the third arc.
		with := func(pad ...byte) []byte {
			oid := slices.Concat(eku[4:5], pad, eku[5:])
			return withExtensionValue(t, h.ca.Signer(), h.card, oidExtKeyUsage, slices.Concat([]byte{0x30, byte(len(oid) + 2), 0x06, byte(len(oid))}, oid))
		}
		_, err := v.VerifyCard(append([][]byte{with()}, h.ca.Chain()...))
		require.NoError(t, err, "the OBJECT IDENTIFIER as issued")
		_, err = v.VerifyCard(append([][]byte{with(0x80)}, h.ca.Chain()...))
		requireRefusal(t, err, ErrUntrusted, 0)
		assert.Contains(t, err.Error(), "malformed certificate")
	})
}

// TestCertificatePoliciesEncoding: a certificate whose certificatePolicies
// value is not the one DER encoding of what it holds, which crypto/x509
// reads all the same and applies when it builds a path (the policy
// identifiers, Policies), is refused as ErrUsage naming the certificate
// and the extension: a card presented, a CA presented, an intermediate
// given to NewVerifier and a CA given to LoadCA. The value with bytes
// after its SEQUENCE, with a PolicyInformation holding more than a
// policyIdentifier and a SEQUENCE of policyQualifiers, or empty (RFC 5280
// has one PolicyInformation or more) is refused; the same policies in DER,
// with qualifiers or without, are taken.
func TestCertificatePoliciesEncoding(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	oidPolicies := asn1.ObjectIdentifier{2, 5, 29, 32}
	const why = "extension 2.5.29.32 (certificatePolicies) with more than its SEQUENCE of PolicyInformation, each a policyIdentifier and its policyQualifiers"
	anyPolicy := []byte{0x06, 0x04, 0x55, 0x1d, 0x20, 0x00} // 2.5.29.32.0
	// A PolicyQualifierInfo of id-qt-cps (1.3.6.1.5.5.7.2.1) and an
	// IA5String "x".
	cps := []byte{0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x02, 0x01, 0x16, 0x01, 'x'}
	seq := func(content ...[]byte) []byte {
		c := slices.Concat(content...)
		return slices.Concat([]byte{0x30, byte(len(c))}, c)
	}
	for _, tt := range []struct {
		name  string
		value []byte
		taken bool
	}{
		{"in DER", seq(seq(anyPolicy)), true},
		{"with qualifiers, in DER", seq(seq(anyPolicy, seq(cps))), true},
		{"followed by other bytes", append(seq(seq(anyPolicy)), 0x05, 0x00), false},
		{"a field after the policyIdentifier", seq(seq(anyPolicy, []byte{0x05, 0x00})), false},
		{"a field after the policyQualifiers", seq(seq(anyPolicy, seq(cps), []byte{0x05, 0x00})), false},
		{"empty", seq(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ext := pkix.Extension{Id: oidPolicies, Value: tt.value}
			tmpl := cardTemplate(t, testICCID)
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
			card := issueRaw(t, h.ca, tmpl, h.cardKey.Public())
			parent := h.ca.Certificate()
			ca := issueRaw(t, h.root, caTemplateOf(func(c *x509.Certificate) {
				c.RawSubject, c.SubjectKeyId, c.ExtraExtensions = parent.RawSubject, parent.SubjectKeyId, []pkix.Extension{ext}
			}), h.ca.Signer().Public())
			_, errCard := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
			_, errCA := v.VerifyCard([][]byte{h.card, ca})
			_, errIntermediate := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
			_, errLoad := LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
			if tt.taken {
				assert.NoError(t, errCard)
				assert.NoError(t, errCA)
				assert.NoError(t, errIntermediate)
				assert.NoError(t, errLoad)
				return
			}
			assert.EqualError(t, errCard, fmt.Sprintf("%v: certificate 0: %s", ErrUsage, why))
			assert.EqualError(t, errCA, fmt.Sprintf("%v: certificate 1: %s", ErrUsage, why))
			assert.EqualError(t, errIntermediate, fmt.Sprintf("%v: intermediate 0 %s", ErrUsage, why))
			assert.EqualError(t, errLoad, fmt.Sprintf("%v: CA certificate %s", ErrUsage, why))
		})
	}
}

// paddedCard returns a card certificate for key of h's card CA, of the
// profile, of exactly size octets: a non-critical extension, which a
// verifier does not read, fills it.
func paddedCard(t testing.TB, h *hierarchy, key *ecdsa.PrivateKey, size int) []byte {
	t.Helper()
	return padded(t, size, func(pad pkix.Extension) []byte {
		tmpl := cardTemplate(t, testICCID)
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pad)
		return issueRaw(t, h.ca, tmpl, key.Public())
	})
}

// padded returns what sign signs with the extension pad, of a value that
// fills it to exactly size octets.
func padded(t testing.TB, size int, sign func(pad pkix.Extension) []byte) []byte {
	t.Helper()
	n := 0
	for range 100 {
		value, err := asn1.Marshal(make([]byte, n))
		require.NoError(t, err)
		der := sign(pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: value})
		if len(der) == size {
			return der
		}
		// The signature's length varies by an octet or two, and so do
		// the length octets of the elements that hold the padding.
		n = max(0, n+size-len(der))
	}
	t.Fatalf("nothing signed of %d octets", size)
	return nil
}

// TestVerifyCardCertificateSize: VerifyCard, CertIDs and ParseCertificate
// take a certificate of MaxCertificateSize octets and refuse one an octet
// longer as ErrUntrusted, naming its position, before parsing it: a
// certificate of the profile signed by a known CA, and bytes that are no
// certificate, are refused alike (errCertificateSize).
func TestVerifyCardCertificateSize(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	key := newKey(t)

	atLimit := paddedCard(t, h, key, MaxCertificateSize)
	vc, err := v.VerifyCard([][]byte{atLimit, h.ca.DER()})
	require.NoError(t, err, "at the limit")
	assert.True(t, key.PublicKey.Equal(vc.PublicKey))
	ids, err := v.CertIDs([][]byte{atLimit, h.ca.DER()})
	require.NoError(t, err, "at the limit")
	assert.NotNil(t, ids)
	_, err = ParseCertificate(atLimit)
	require.NoError(t, err, "at the limit")

	garbage := bytes.Repeat([]byte{0x30}, MaxCertificateSize+1)
	for name, over := range map[string][]byte{
		"certificate": paddedCard(t, h, key, MaxCertificateSize+1),
		"garbage":     garbage,
	} {
		vc, err := v.VerifyCard([][]byte{h.card, over})
		requireRefusal(t, err, ErrUntrusted, 1)
		assert.ErrorIs(t, err, errCertificateSize, name)
		assert.Nil(t, vc, name)
		vc, err = v.VerifyCard([][]byte{over, h.ca.DER()})
		requireRefusal(t, err, ErrUntrusted, 0)
		assert.ErrorIs(t, err, errCertificateSize, name)
		assert.Nil(t, vc, name)
		ids, err := v.CertIDs([][]byte{over, h.ca.DER()})
		requireRefusal(t, err, ErrUntrusted, 0)
		assert.ErrorIs(t, err, errCertificateSize, name)
		assert.Nil(t, ids, name)
		c, err := ParseCertificate(over)
		assert.ErrorIs(t, err, ErrUntrusted, name)
		assert.ErrorIs(t, err, errCertificateSize, name)
		assert.Nil(t, c, name)
	}
}

// TestVerifyCardSizeBeforeCache: a chain that holds a certificate longer
// than MaxCertificateSize is refused for it before the chain is looked up
// in the cache (and hashed for its key): a result held under the key
// that such a chain would have is not served, and the cache is left as
// it was.
func TestVerifyCardSizeBeforeCache(t *testing.T) {
	h, clk, v, verified := cachedHierarchy(t)

	over := bytes.Repeat([]byte{0x30}, MaxCertificateSize+1)
	for at, chain := range [][][]byte{{over, h.ca.DER()}, {h.card, over}} {
		v.cache.put(chainKey(roleCard, chain), verified, clk.now(), v.crls.Load(), &v.crls)
		require.Equal(t, 2, v.cache.len())
		vc, err := v.VerifyCard(chain)
		assert.EqualError(t, err, fmt.Sprintf("pki: untrusted certificate chain: certificate %d: malformed certificate: certificate longer than %d octets: %d octets",
			at, MaxCertificateSize, MaxCertificateSize+1))
		requireRefusal(t, err, ErrUntrusted, at)
		assert.ErrorIs(t, err, errCertificateSize)
		assert.Nil(t, vc)
		assert.Same(t, verified, v.cache.get(chainKey(roleCard, chain), clk.now(), v.crls.Load()), "the entry is left")
		v.cache.clear()
		_, err = v.VerifyCard(h.chain())
		require.NoError(t, err)
	}
}

// TestNewVerifierMaxDepthBound: NewVerifier takes a MaxDepth from 2 to
// MaxChainDepth, and a chain of MaxChainDepth certificates verifies under
// it; a MaxDepth beyond, which would have every chain presented up to it
// parsed and checked, or negative, is ErrInvalid.
func TestNewVerifierMaxDepthBound(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	ca := root
	for i := 2; i < MaxChainDepth; i++ {
		ca, err = ca.NewIntermediate(newKey(t), CAOptions{
			Subject: pkix.Name{CommonName: fmt.Sprintf("CA %d", i)}, CRLURL: fmt.Sprintf("http://pki.example/%d.crl", i),
			Now: fixed(t0), MaxPathLen: -1,
		})
		require.NoError(t, err)
	}
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	chain := append([][]byte{card}, ca.Chain()...)
	require.Len(t, chain, MaxChainDepth-1, "the root is not presented")

	v, err := NewVerifier(VerifierOptions{
		Roots: [][]byte{root.DER()}, Now: fixed(t0.Add(time.Hour)), MaxDepth: MaxChainDepth,
		Revocation: RevocationBestEffort,
	})
	require.NoError(t, err)
	vc, err := v.VerifyCard(chain)
	require.NoError(t, err)
	assert.Len(t, vc.Chain, MaxChainDepth)

	for _, depth := range []int{MaxChainDepth + 1, math.MaxInt, -1, math.MinInt} {
		v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, MaxDepth: depth})
		assert.ErrorIs(t, err, ErrInvalid, "MaxDepth %d", depth)
		assert.Nil(t, v)
	}
}

// TestVerifierSkewOption: VerifierOptions.Skew is the difference tolerated
// past a certificate's NotAfter, to the nanosecond: zero is DefaultSkew, a
// positive Duration is tolerated as it is, and a negative one tolerates
// none, the card refused (ErrExpired) a nanosecond after its NotAfter.
func TestVerifierSkewOption(t *testing.T) {
	h := newHierarchy(t)
	short, chain := h.shortCard(t) // valid until t0 + 2h
	end := mustParse(t, short).NotAfter
	for _, tt := range []struct {
		name string
		skew time.Duration
		last time.Duration // the last time after end at which the card is accepted
	}{
		{"zero: DefaultSkew", 0, DefaultSkew},
		{"a minute", time.Minute, time.Minute},
		{"negative: none", -time.Hour, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(end.Add(tt.last))
			v := newVerifier(t, h, clk, VerifierOptions{Skew: tt.skew, CacheSize: -1})
			addCRLs(t, h, v)
			_, err := v.VerifyCard(chain)
			require.NoError(t, err, "at the end of the validity plus the skew")
			clk.set(end.Add(tt.last + time.Nanosecond))
			_, err = v.VerifyCard(chain)
			assert.Equal(t, &Error{Err: ErrExpired, Cert: 0, Reason: "expired"}, err, "a nanosecond later")
		})
	}
}
