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
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/casimpay/casimpay/internal/ecdsakey"
	"github.com/casimpay/casimpay/internal/nilptr"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CA is a certificate authority of the profile: its certificate and the
// crypto.Signer of its key (which may live in an HSM). A root CA certifies
// card-issuing CAs; a card-issuing CA certifies cards and the platform's
// receipt key; both sign CRLs. A CA is safe for concurrent use.
//
// NewRoot, NewIntermediate and LoadCA make one: a nil *CA, or the zero CA,
// issues nothing, refusing NewIntermediate, IssueCard, IssuePlatform,
// IssueCRL, CRL and Revoke with ErrInvalid, and has no certificate, key,
// chain, revocation or CRL number (Certificate, DER, Signer, Chain and
// Revoked return nil, LastCRLNumber zero).
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	root    bool     // cert is self-signed
	issuers [][]byte // certificates above this one, root excluded
	room    int      // pathRoom of cert: how many CAs may sit below it
	limit   int      // position in Chain() of the CA whose path length sets room (pathLimit)
	crlURL  string
	now     func() time.Time
	rand    io.Reader

	mu        sync.Mutex
	revoked   []Revocation
	listed    map[string]struct{} // the serials of revoked, as serialKey
	crlNumber uint64
}

// made reports whether ca was made by NewRoot, NewIntermediate or LoadCA,
// which set its certificate: not nil, and not the zero CA.
func (ca *CA) made() bool { return ca != nil && ca.cert != nil }

// errNoCA is the refusal of every call of a nil or zero CA that would
// issue something.
func errNoCA() error {
	return newError(ErrInvalid, -1, "no CA (one is made by NewRoot, NewIntermediate or LoadCA)", nil)
}

// CAOptions configures NewRoot, NewIntermediate and LoadCA. Its zero value
// holds the defaults, except CRLURL, which is required.
type CAOptions struct {
	// Subject is the CA's distinguished name. Zero: common name "CA-SIM
	// Root CA" for a root, "CA-SIM Card CA" for an intermediate. One that
	// no certificate can carry (a name that is not valid UTF-8), or that
	// makes the CA's certificate longer than MaxCertificateSize, is out of
	// range; IssueCard and IssuePlatform refuse a certificate that it,
	// as the issuer's name, can make longer (see IssueCard).
	Subject pkix.Name
	// Validity is the lifetime of the CA certificate, cut short to end no
	// later than its issuer's. Zero: DefaultRootValidity or
	// DefaultCAValidity. Negative or under a second (certificates carry
	// their times to the second) is out of range.
	Validity time.Duration
	// CRLURL is the HTTP URL where this CA publishes its CRL. It becomes the
	// CRL distribution point of every certificate the CA issues, as it is:
	// one that is not http or https, has no host or has a character other
	// than printable ASCII (a space, say, which a URI does not hold; a
	// path may be percent-encoded) is out of range. NewIntermediate
	// refuses a certificate that it makes longer than MaxCertificateSize,
	// IssueCard and IssuePlatform one that it can make longer (see
	// IssueCard).
	CRLURL string
	// MaxPathLen limits how many CAs may sit below this one. Zero: the
	// profile's value, 1 for a root and 0 for an intermediate. Negative:
	// no limit. NewIntermediate cuts it to what the path lengths of the
	// CAs above leave (for each, the root's included, its path length
	// less the CAs below it down to the new one, the new one counted), as
	// it cuts the validity to its issuer's.
	MaxPathLen int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the serial numbers of the certificates that
	// the CA signs, also handed to its signer for them and for its CRLs
	// (crypto/ecdsa keys ignore it since Go 1.26); nil means
	// crypto/rand.Reader, and a nil pointer, func, map, channel or slice
	// is out of range (ErrInvalid). The CA reads it under a lock of its
	// own, so it need not be safe for concurrent use unless something else
	// reads it too. The CA's own certificate is signed with its issuer's:
	// NewRoot reads Rand for it, NewIntermediate the Rand of the issuing
	// CA, never that of opts. The signature with which NewRoot,
	// NewIntermediate and LoadCA check a signer other than a private key
	// in memory, which no one sees, draws on crypto/rand.Reader.
	Rand io.Reader
	// Revoked and LastCRLNumber let LoadCA restore what Revoked and
	// LastCRLNumber returned before the CA was stored: the list that
	// Revoke builds and the number of the last CRL that CRL issued, so
	// that a reloaded CA goes on where it stopped (a verifier refuses a
	// CRL numbered below one it holds). NewRoot and NewIntermediate
	// refuse them.
	Revoked       []Revocation
	LastCRLNumber uint64
}

func (o *CAOptions) fill(root bool) (CAOptions, error) {
	v := *o
	if len(v.Revoked) > 0 || v.LastCRLNumber > 0 {
		return v, newError(ErrInvalid, -1, "only LoadCA restores revocations and a CRL number", nil)
	}
	if v.CRLURL == "" {
		return v, newError(ErrInvalid, -1, "a CA needs a CRL URL", nil)
	}
	// Every certificate the CA issues carries the URL as it is, in an
	// IA5String, for relying parties to fetch the CRL from.
	if strings.ContainsFunc(v.CRLURL, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return v, newError(ErrInvalid, -1, fmt.Sprintf("CRL URL %q has a character other than printable ASCII, which a URI does not hold", v.CRLURL), nil)
	}
	if u, err := url.Parse(v.CRLURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return v, newError(ErrInvalid, -1, fmt.Sprintf("CRL URL %q is not an http or https URL with a host", v.CRLURL), nil)
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if err := nilOption(option{"Rand", v.Rand}); err != nil {
		return v, err
	}
	if v.Rand == nil {
		v.Rand = rand.Reader
	}
	if len(v.Subject.ToRDNSequence()) == 0 {
		v.Subject = pkix.Name{CommonName: "CA-SIM Card CA"}
		if root {
			v.Subject.CommonName = "CA-SIM Root CA"
		}
	}
	if v.Validity == 0 {
		v.Validity = DefaultCAValidity
		if root {
			v.Validity = DefaultRootValidity
		}
	}
	if err := checkValidity(v.Validity); err != nil {
		return v, err
	}
	if err := checkSubject(v.Subject); err != nil {
		return v, err
	}
	return v, nil
}

// checkSubject refuses (ErrInvalid) a subject that no certificate can
// carry, such as a name that is not valid UTF-8, which crypto/x509 would
// fail to encode once the key is checked and the serial number drawn.
func checkSubject(n pkix.Name) error {
	if _, err := asn1.Marshal(n.ToRDNSequence()); err != nil {
		return newError(ErrInvalid, -1, "subject cannot be encoded", err)
	}
	return nil
}

// checkValidity refuses a validity that is negative or under a second:
// certificates carry their times to the second, so that one valid for
// less would end the second it starts.
func checkValidity(d time.Duration) error {
	if d < 0 {
		return newError(ErrInvalid, -1, "negative validity", nil)
	}
	if d < time.Second {
		return newError(ErrInvalid, -1, "validity under a second", nil)
	}
	return nil
}

// NewRoot creates a self-signed root CA whose key is key, an ECDSA P-256 or
// P-384 signer. It returns an error matching ErrKey for another key (or
// none: a nil signer, or a nil pointer, func, map, channel or slice of a
// signer type) or a signer whose key does not match the public key it
// reports (a private key in memory has its public key computed from it,
// another signer signs a fixed digest for that public key to verify; a
// signer that fails to sign returns its error, wrapped) and ErrInvalid for
// options out of range (no CRL URL of http or https with a host, in
// printable ASCII, a subject that cannot be encoded, a negative validity or
// one under a second, a validity from opts.Now that starts before the year
// 0 or ends after the year 9999, which no certificate can carry, a subject
// that makes a certificate longer than MaxCertificateSize, revocations or a
// CRL number, which only LoadCA restores).
func NewRoot(key crypto.Signer, opts CAOptions) (*CA, error) {
	o, err := opts.fill(true)
	if err != nil {
		return nil, err
	}
	pub, err := caSigner(key)
	if err != nil {
		return nil, err
	}
	tmpl, err := caTemplate(o, pub, o.Rand)
	if err != nil {
		return nil, err
	}
	// A CA below a root starts and ends within its issuer's validity.
	if !encodable(tmpl.NotBefore) || !encodable(tmpl.NotAfter) {
		return nil, newError(ErrInvalid, -1, "validity outside the years 0 to 9999 that a certificate can carry", nil)
	}
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	der, err := x509.CreateCertificate(o.Rand, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create root: %w", err)
	}
	if err := checkIssued(der); err != nil {
		return nil, err
	}
	return newCA(der, key, nil, nil, unlimitedPath, 0, o)
}

// NewIntermediate creates a CA certified by ca (normally the card-issuing
// CA under the root) whose key is key, an ECDSA P-256 or P-384 signer. The
// certificate carries ca's CRL distribution point, starts at opts.Now but
// no earlier than ca's (whose clock may be ahead of opts.Now) and ends no
// later than ca's. Its serial number and ca's signature draw on ca's Rand;
// opts.Rand serves the new CA. It returns an error matching ErrExpired when
// ca expires before the certificate would start, ErrKey for another key
// type or a signer whose key does not match its public key (as NewRoot
// checks it), ErrUsage when ca may not certify CAs (the path lengths of ca
// and of the CAs above it, the root's included, leave no room for a CA
// below ca, which could certify nothing that a verifier accepts; the
// refusal names the CA whose path length sets the limit, as LoadCA names
// an issuer, by its position in ca.Chain(), from 0 for ca, or as ca, a
// root: "a CA below this one is left nothing to certify by the path length
// of issuer 1") and ErrInvalid for options out of range, such as a
// validity that ends, from opts.Now, before ca's certificate starts, or a
// subject that makes the certificate longer than MaxCertificateSize.
func (ca *CA) NewIntermediate(key crypto.Signer, opts CAOptions) (*CA, error) {
	if !ca.made() {
		return nil, errNoCA()
	}
	o, err := opts.fill(false)
	if err != nil {
		return nil, err
	}
	pub, err := caSigner(key)
	if err != nil {
		return nil, err
	}
	if ca.room < 1 {
		return nil, ca.errNoRoom()
	}
	// The issuer's source, as for every certificate the issuer signs:
	// o.Rand is the new CA's, for the certificates and CRLs it signs.
	tmpl, err := caTemplate(o, pub, ca.rand)
	if err != nil {
		return nil, err
	}
	if o.MaxPathLen == 0 {
		tmpl.MaxPathLen = 0
	}
	// No more than the path lengths above leave: crypto/x509 would refuse
	// every certificate that a CA below the new one issues.
	if left := ca.room - 1; ca.room != unlimitedPath && (tmpl.MaxPathLen < 0 || tmpl.MaxPathLen > left) {
		tmpl.MaxPathLen = left
	}
	tmpl.MaxPathLenZero = tmpl.MaxPathLen == 0
	if err := ca.bound(tmpl); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(ca.rand, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: create intermediate: %w", err)
	}
	if err := checkIssued(der); err != nil {
		return nil, err
	}
	// ca.room, at least 1, leaves the new CA room: no limit to name.
	return newCA(der, key, ca.Chain(), ca.cert, ca.room, 0, o)
}

// LoadCA returns the CA whose certificate is cert (DER) and whose key is
// key, with issuers the certificates above it (root excluded, nearest
// first), as stored after NewRoot or NewIntermediate. The CA keeps copies
// of cert and issuers. It returns an error matching ErrKey when key does
// not match the certificate, is not an ECDSA P-256 or P-384 key or does
// not match the public key it reports (as NewRoot checks it),
// ErrUsage when cert or one of issuers is not a CA certificate of the
// profile, as a Verifier has it (a critical basicConstraints of CA:TRUE,
// a critical keyUsage with keyCertSign and cRLSign, and a subject key
// identifier, not empty: PROTOCOL.md §4.5; and for issuers, a key ECDSA
// P-256 or P-384) or carries a critical extension that crypto/x509 does
// not handle (no chain verifies through it) or a notBefore or notAfter
// not encoded as RFC 5280 §4.1.2.5 has it (in UTC with seconds, a UTCTime
// through 2049, a GeneralizedTime from 2050 on or before 1950) or an
// extension whose critical is written out as FALSE, the default that DER
// leaves out, or other bytes after its extensions, after an extension's
// value, after its notAfter in its validity or in its
// subjectPublicKeyInfo, an ECDSA key whose subjectPublicKey has unused
// bits, an ECDSA signature algorithm with parameters, an issuer or
// subject with an empty RelativeDistinguishedName, one whose attributes
// are out of the order DER has them in or an attribute with bytes after
// its value, an issuerUniqueID or subjectUniqueID, or a basicConstraints,
// keyUsage, extKeyUsage, key identifier or certificatePolicies value not
// in DER (bytes after it, a field after those of a basicConstraints, an
// authorityKeyIdentifier or a PolicyInformation, no PolicyInformation, a
// keyUsage with trailing zero bits: a Verifier refuses each), or, not
// self-signed, has no authority key identifier, a serial number that is
// not positive or is longer than 20 octets, or not the CRL distribution
// points that a card has (which a Verifier refuses below a root), when
// one of issuers is self-signed (a root) or cert is and issuers is not
// empty, when issuers are not cert's chain (each certificate, cert first,
// is issued by the next, by name, authority key identifier and signature)
// and when the path lengths of issuers leave cert nothing to certify (a
// certificate it issued would sit below more CAs than one of them
// allows), ErrUntrusted when cert or one of issuers is malformed or names
// itself as its issuer, by name and authority key identifier, as a root
// does, while its own key does not verify its signature (a root altered
// after it was signed), and ErrInvalid for options out of range, such as
// a restored revocation no CRL can carry. The error names the certificate
// refused, as NewVerifier names a root or an intermediate: the CA
// certificate, or an issuer by its position in issuers, from 0 (when
// issuers are not cert's chain, of the certificates that the next did not
// issue, cert's included, the one farthest from cert; of those that the
// path lengths above them leave nothing to certify, cert's included, the
// one farthest from cert, the refusal naming too the issuer whose path
// length sets the limit). The root is not given: the CA does not know its
// path length, nor whether issuers reach it (issuers left out, for one,
// are not found missing), which a Verifier checks.
func LoadCA(key crypto.Signer, cert []byte, issuers [][]byte, opts CAOptions) (*CA, error) {
	revoked, number := opts.Revoked, opts.LastCRLNumber
	opts.Revoked, opts.LastCRLNumber = nil, 0
	o, err := opts.fill(false)
	if err != nil {
		return nil, err
	}
	// The CA keeps copies: a caller reusing its buffers changes nothing.
	issuers = cloneAll(issuers)
	parent, above, limit, err := issuerChain(issuers)
	if err != nil {
		return nil, err
	}
	ca, err := newCA(bytes.Clone(cert), key, issuers, parent, above, limit, o)
	if err != nil {
		return nil, err
	}
	pub, err := caSigner(key)
	if err != nil {
		return nil, err
	}
	if !pub.Equal(ca.cert.PublicKey) {
		return nil, newError(ErrKey, -1, "the signer does not match the CA certificate", nil)
	}
	for _, r := range revoked {
		if err := ca.revoke(r); err != nil {
			return nil, err
		}
	}
	ca.crlNumber = number
	return ca, nil
}

// issuerChain parses issuers, the certificates above a CA's, root
// excluded, nearest first, and returns the nearest (nil for none), its
// pathRoom as far as issuers tell (the root's path length is not among
// them) and the position of the issuer whose path length sets it
// (pathLimit). It refuses, naming it by its position in issuers, one that
// checkCA or belowRoot refuses, a root (ErrUsage), one whose key is not a
// CA key, one not issued by the one after it (signs), and one that the
// path lengths above it leave nothing to certify, naming the issuer whose
// path length sets the limit.
func issuerChain(issuers [][]byte) (*x509.Certificate, int, int, error) {
	room, limit := unlimitedPath, 0
	var above *x509.Certificate
	for i := len(issuers) - 1; i >= 0; i-- {
		what := fmt.Sprintf("issuer %d", i)
		c, err := parseBelowRoot(what, issuers[i], "which the issuers exclude")
		if err != nil {
			return nil, 0, 0, err
		}
		if err := belowRoot(what, c); err != nil {
			return nil, 0, 0, err
		}
		if above != nil && !signs(above, c, true) {
			return nil, 0, 0, newError(ErrUsage, -1, fmt.Sprintf("%s is not issued by issuer %d", what, i+1), nil)
		}
		if room, limit = pathLimit(room, limit, c, i); room < 0 {
			return nil, 0, 0, errLeftNothing(what, fmt.Sprintf("issuer %d", limit))
		}
		above = c
	}
	return above, room, limit, nil
}

// pathLimit returns pathRoom(parent, c) and the position of the
// certificate whose own path length sets it: at, c's, where c's path
// length does (alone, or as well as one above), else limit, that of the
// one setting parent (any for unlimitedPath).
func pathLimit(parent, limit int, c *x509.Certificate, at int) (int, int) {
	room := pathRoom(parent, c)
	if parent == unlimitedPath || c.BasicConstraintsValid && c.MaxPathLen >= 0 && c.MaxPathLen == room {
		return room, at
	}
	return room, limit
}

// errLeftNothing is the refusal (ErrUsage) of the CA certificate that the
// refusal calls what, which the path length of the CA that it calls by
// ("issuer 1") leaves nothing to certify.
func errLeftNothing(what, by string) error {
	return newError(ErrUsage, -1, what+" is left nothing to certify by the path length of "+by, nil)
}

// errNoRoom is NewIntermediate's refusal (errLeftNothing) of a CA below
// ca, which the path lengths of ca and of the CAs above it leave nothing
// to certify. It names the CA whose path length sets the limit as LoadCA
// names an issuer, by its position in ca.Chain(), 0 for ca, as newCA
// found it (ca.limit, as issuerChain finds it in Chain), or as ca, a
// root, which Chain leaves out. Chain holds every CA whose path length
// counts: NewIntermediate cuts a CA's to what the root's leaves, so that
// the root's never sets the limit alone.
func (ca *CA) errNoRoom() error {
	const what = "a CA below this one"
	if ca.root {
		return errLeftNothing(what, "this CA, a root")
	}
	return errLeftNothing(what, fmt.Sprintf("issuer %d", ca.limit))
}

// parseNamed parses der, the certificate that a refusal calls what ("root
// 0", "issuer 1", "CA certificate"), refusing one that is malformed
// (ErrUntrusted) with crypto/x509's error as the cause.
func parseNamed(what string, der []byte) (*x509.Certificate, error) {
	c, err := parseCertificate(der)
	if err != nil {
		return nil, newError(ErrUntrusted, -1, what+" is malformed", err)
	}
	return c, nil
}

// checkCA refuses c, the CA certificate that the refusal calls what, when
// it is not a CA certificate of the profile (caProfile), carries a
// critical extension that crypto/x509 does not handle or is not encoded
// as RFC 5280 and DER have it (ErrUsage), or names itself as its issuer
// while its own key does not verify it (errAlteredRoot), and reports
// whether c is a root. NewVerifier and LoadCA check every CA certificate
// they are given with it: a CA whose certificate a Verifier refuses would
// issue nothing it accepts.
func checkCA(what string, c *x509.Certificate) (root bool, err error) {
	if why := caProfile(c); why != "" {
		return false, newError(ErrUsage, -1, what+" "+why, nil)
	}
	if why := unhandled(c); why != "" {
		return false, newError(ErrUsage, -1, what+" with "+why, nil)
	}
	if why := certificateEncoding(c); why != "" {
		return false, newError(ErrUsage, -1, what+" "+why, nil)
	}
	// A root by its signature, not its name: a CA may bear the name of
	// the CA that certified it.
	root = selfSigned(c)
	if !root && namesItself(c) {
		return false, errAlteredRoot(what, c)
	}
	return root, nil
}

// parseCA parses der, the CA certificate that a refusal calls what, and
// checks it (parseNamed, checkCA), reporting whether it is a root.
func parseCA(what string, der []byte) (*x509.Certificate, bool, error) {
	c, err := parseNamed(what, der)
	if err != nil {
		return nil, false, err
	}
	root, err := checkCA(what, c)
	if err != nil {
		return nil, false, err
	}
	return c, root, nil
}

// parseBelowRoot parses der, the certificate of a CA below a root that the
// refusal calls what (an intermediate of NewVerifier, an issuer of
// LoadCA), refusing one that parseNamed or checkCA refuses, a root
// (ErrUsage: "what is self-signed: a root, " and asRoot, which says why
// none is taken there), and one whose key is not a CA key (ErrUsage). A
// root lacks what the profile gives a CA below a root (CRL distribution
// points, an authority key identifier): the refusal names the cause
// instead. The caller checks the rest of a CA below a root (belowRootCA,
// and for LoadCA belowRoot).
func parseBelowRoot(what string, der []byte, asRoot string) (*x509.Certificate, error) {
	c, root, err := parseCA(what, der)
	if err != nil {
		return nil, err
	}
	if root {
		return nil, newError(ErrUsage, -1, what+" is self-signed: a root, "+asRoot, nil)
	}
	if !caKey(c.PublicKey) {
		return nil, newError(ErrUsage, -1, what+" key is not ECDSA P-256 or P-384", nil)
	}
	return c, nil
}

// belowRoot refuses (ErrUsage) c, a CA certificate that is not a root and
// that the refusal calls what, when the check of a path refuses it whoever
// its issuer: without an authority key identifier, or for belowRootCA.
func belowRoot(what string, c *x509.Certificate) error {
	if len(c.AuthorityKeyId) == 0 {
		return newError(ErrUsage, -1, what+", not self-signed, without an authority key identifier", nil)
	}
	if why := belowRootCA(c); why != "" {
		return newError(ErrUsage, -1, what+" "+why, nil)
	}
	return nil
}

// selfSigned reports whether c is a root: its issuer name is its subject
// and its own key verifies its signature.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// namesItself reports whether c names itself as its issuer, by name and
// by key identifier, as a root does (a CA that kept its name under a new
// key names the old key). One that is not selfSigned is a root altered
// after it was signed: errAlteredRoot.
func namesItself(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && identifiedBy(c, c)
}

// errAlteredRoot is the refusal (ErrUntrusted) of c, a certificate that
// namesItself but whose own key does not verify it, as what; its cause is
// crypto/x509's, which tells a signature that fails from one of an
// algorithm that it verifies no certificate with (SHA-1).
func errAlteredRoot(what string, c *x509.Certificate) error {
	return newError(ErrUntrusted, -1, what+" names itself as its issuer, as a root, but its signature does not verify under its own key", c.CheckSignatureFrom(c))
}

// newCA returns the CA of certificate der and key key (which the caller
// checks with caSigner to match der), below issuers,
// the nearest of which is parent (nil for none or not known), whose
// pathRoom is above (unlimitedPath for none or not known), refusing one
// that parent did not issue or that the path lengths above it leave
// nothing to certify, naming issuer limit, the one whose path length sets
// above (as issuerChain finds it; any when above is unlimitedPath, or when
// der's own path length sets the CA's room, as NewIntermediate's does).
// The CA keeps the position in its Chain() of the CA whose path length
// sets its room, as issuerChain finds it there, for errNoRoom.
func newCA(der []byte, key crypto.Signer, issuers [][]byte, parent *x509.Certificate, above, limit int, o CAOptions) (*CA, error) {
	const what = "CA certificate"
	c, root, err := parseCA(what, der)
	if err != nil {
		return nil, err
	}
	if !root {
		if err := belowRoot(what, c); err != nil {
			return nil, err
		}
	}
	if root && parent != nil {
		return nil, newError(ErrUsage, -1, what+" is self-signed: a root, which has no issuers", nil)
	}
	if parent != nil && !signs(parent, c, true) {
		return nil, newError(ErrUsage, -1, what+" is not issued by issuer 0", nil)
	}
	// Position limit in issuers is limit+1 in the CA's Chain(), der's
	// certificate first.
	room, at := pathLimit(above, limit+1, c, 0)
	if room < 0 {
		// Only the issuers' path lengths leave a CA nothing (its own
		// sets no room below zero).
		return nil, errLeftNothing(what, fmt.Sprintf("issuer %d", limit))
	}
	return &CA{
		cert:    c,
		key:     key,
		root:    root,
		issuers: issuers,
		room:    room,
		limit:   at,
		crlURL:  o.CRLURL,
		now:     o.Now,
		rand:    lockReader(o.Rand),
	}, nil
}

// caSigner returns the public key of key, which must be an ECDSA P-256 or
// P-384 signer of that public key's private key (holdsKey), or an error
// matching ErrKey (for a nil key too, or a nil of a signer type, such as
// a nil *ecdsa.PrivateKey or a nil func, whose Public panics; a signer
// that signs with a key other than the one it reports would make
// certificates and CRLs that verify under none of the CA's). The error of
// a signer that fails to sign is returned wrapped as it is.
func caSigner(key crypto.Signer) (*ecdsa.PublicKey, error) {
	var pub *ecdsa.PublicKey
	if !nilptr.Is(key) {
		pub, _ = key.Public().(*ecdsa.PublicKey)
	}
	if pub == nil || !caKey(pub) {
		return nil, errCAKeyCurve()
	}
	held, err := ecdsakey.Holds(key, pub)
	if err != nil {
		return nil, fmt.Errorf("pki: check the CA key: %w", err)
	}
	if !held {
		return nil, newError(ErrKey, -1, "the signer's key does not match its public key", nil)
	}
	return pub, nil
}

// checkIssued refuses der, a certificate just signed, when it is longer
// than MaxCertificateSize, which no verifier reads: its names or CRL URL
// are out of range (ErrInvalid).
func checkIssued(der []byte) error { return checkSize(len(der), "makes") }

// checkSize refuses a certificate of n octets, which names or a CRL URL
// make (or, of a certificate not signed yet, can make) longer than
// MaxCertificateSize, as out of range (ErrInvalid).
func checkSize(n int, makes string) error {
	if n > MaxCertificateSize {
		return newError(ErrInvalid, -1, fmt.Sprintf("a subject, name or CRL URL that %s a certificate of %d octets", makes, n), errCertificateSize)
	}
	return nil
}

// errCAKeyCurve returns the error matching ErrKey for a key that is not
// one a CA may have (caKey).
func errCAKeyCurve() error {
	return newError(ErrKey, -1, "a CA key must be ECDSA P-256 or P-384", nil)
}

// lockReader returns r, or for a reader other than crypto/rand.Reader, a
// reader that reads r under a lock, so that concurrent calls of one CA do
// not read the caller's reader at the same time.
func lockReader(r io.Reader) io.Reader {
	if r == rand.Reader {
		return r
	}
	return &lockedReader{r: r}
}

type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// caTemplate returns the template of a CA certificate for o and pub, with a
// serial number drawn from src, the issuer's source.
func caTemplate(o CAOptions, pub *ecdsa.PublicKey, src io.Reader) (*x509.Certificate, error) {
	serial, err := randomSerial(src)
	if err != nil {
		return nil, err
	}
	skid, err := keyID(pub)
	if err != nil {
		return nil, newError(ErrKey, -1, "invalid public key", err)
	}
	now := o.Now().Truncate(time.Second)
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               o.Subject,
		NotBefore:             now,
		NotAfter:              now.Add(o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          skid,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	switch {
	case o.MaxPathLen > 0:
		t.MaxPathLen = o.MaxPathLen
	case o.MaxPathLen < 0:
		t.MaxPathLen = -1
	default:
		t.MaxPathLen = 1 // a root's default; NewIntermediate sets 0
	}
	return t, nil
}

// bound sets what every certificate issued by ca shares: the CRL
// distribution point, ca's subject key identifier as the authority key
// identifier (crypto/x509 takes it from ca itself only for a certificate
// whose subject is not ca's), and the validity of t cut to ca's: starting
// no earlier than ca's (a NotBefore asked for before it, or a clock
// behind the one that issued ca) and ending no later. It refuses a
// validity that ends by the time ca's starts (ErrInvalid) and one that
// starts by the time ca's ends (ErrExpired): either would leave the
// certificate no second of validity within its issuer's.
func (ca *CA) bound(t *x509.Certificate) error {
	t.CRLDistributionPoints = []string{ca.crlURL}
	t.AuthorityKeyId = ca.cert.SubjectKeyId
	if !t.NotAfter.After(ca.cert.NotBefore) {
		return newError(ErrInvalid, -1, "the validity asked for ends before the CA's starts", nil)
	}
	if t.NotBefore.Before(ca.cert.NotBefore) {
		t.NotBefore = ca.cert.NotBefore
	}
	if t.NotAfter.After(ca.cert.NotAfter) {
		t.NotAfter = ca.cert.NotAfter
	}
	if !t.NotAfter.After(t.NotBefore) {
		return newError(ErrExpired, -1, "the CA expires before the certificate would start", nil)
	}
	t.SignatureAlgorithm = x509.ECDSAWithSHA256
	return nil
}

// randomSerial returns a positive serial number of 127 random bits, within
// the 20 octets RFC 5280 allows.
func randomSerial(r io.Reader) (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("pki: serial number: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}

// Certificate returns the CA's certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate {
	if !ca.made() {
		return nil
	}
	return ca.cert
}

// DER returns the CA's certificate in DER.
func (ca *CA) DER() []byte {
	if !ca.made() {
		return nil
	}
	return bytes.Clone(ca.cert.Raw)
}

// Signer returns the CA's key.
func (ca *CA) Signer() crypto.Signer {
	if !ca.made() {
		return nil
	}
	return ca.key
}

// Chain returns the CA certificates that a certificate issued by ca is
// presented with: ca's own certificate and those above it, nearest first,
// root excluded (empty for a root: a CA whose certificate is self-signed,
// whatever its name). A card presents its certificate followed by these.
func (ca *CA) Chain() [][]byte {
	if !ca.made() || ca.root {
		return nil
	}
	return cloneAll(append([][]byte{ca.cert.Raw}, ca.issuers...))
}

// cloneAll returns a copy of list and of each of its elements.
func cloneAll(list [][]byte) [][]byte {
	if list == nil {
		return nil
	}
	out := make([][]byte, len(list))
	for i, b := range list {
		out[i] = bytes.Clone(b)
	}
	return out
}

// IssueOptions configures IssueCard and IssuePlatform. The zero value holds
// the defaults.
type IssueOptions struct {
	// NotBefore starts the validity; zero means now. One before the
	// CA's NotBefore is raised to it, the end of the validity staying
	// where NotBefore and Validity put it: a certificate starts no
	// earlier than its issuer.
	NotBefore time.Time
	// Validity is the lifetime, cut short to end no later than the CA's.
	// Zero: DefaultCardValidity or DefaultPlatformValidity. Negative or
	// under a second (certificates carry their times to the second) is
	// out of range.
	Validity time.Duration
}

// IssueCard certifies pub, the ECDSA P-256 public key generated by a card,
// for the card whose ICCID is iccid, and returns the certificate in DER.
// The certificate carries the URI SAN urn:casim:card:<ICCID>, the extended
// key usage OIDCardAuth, the critical key usage digitalSignature, a random
// serial number and ca's CRL distribution point. It starts no earlier
// than ca's certificate (see IssueOptions.NotBefore). It returns an error
// matching ErrCardID for an invalid ICCID, ErrKey for another key type,
// ErrExpired when ca expires before the certificate would start and
// ErrInvalid for a negative validity or one under a second, one that
// ends before ca's certificate starts, or a certificate that can be
// longer than MaxCertificateSize (ca's subject and CRL URL are in it):
// whatever the key, counted with the longest serial number and the
// longest encoding of ca's signature, so that a CA refused is refused for
// every key (CheckIssueCard tells it before there is a key), and before
// anything is signed.
func (ca *CA) IssueCard(pub crypto.PublicKey, iccid string, opts IssueOptions) ([]byte, error) {
	t, err := ca.cardTemplate(iccid, opts)
	if err != nil {
		return nil, err
	}
	return ca.issueLeaf(pub, t)
}

// CheckIssueCard returns the error that IssueCard would return for iccid
// and opts, at the time of ca's clock, whatever the key: ErrInvalid for a
// nil or zero CA, ErrCardID for an invalid ICCID, ErrExpired when ca
// expires before the certificate would start, ErrInvalid for a validity
// out of range or for names and a CRL URL of ca that can make the
// certificate longer than MaxCertificateSize (as IssueCard counts it,
// with the longest serial number and signature); nil when IssueCard,
// given an ECDSA P-256 key, would go on to issue. It signs nothing and
// draws nothing from ca's random source, so that a caller can refuse
// before it has anything done for the key, such as a card generating it.
// What only issuing shows is not checked: the key, the random source and
// the signer; nor can it tell that ca will not have expired by the time
// of IssueCard. It is safe for concurrent use.
func (ca *CA) CheckIssueCard(iccid string, opts IssueOptions) error {
	t, err := ca.cardTemplate(iccid, opts)
	if err != nil {
		return err
	}
	return ca.checkLeafSize(t)
}

// cardTemplate returns the template of a card certificate of ca for iccid
// and opts, without its key, subject key identifier and serial number
// (leafTemplate), or IssueCard's refusal of iccid or opts.
func (ca *CA) cardTemplate(iccid string, opts IssueOptions) (*x509.Certificate, error) {
	if !ca.made() {
		return nil, errNoCA()
	}
	uri, err := CardURI(iccid)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, newError(ErrCardID, -1, "card URI", err)
	}
	return ca.leafTemplate(pkix.Name{CommonName: iccid}, []*url.URL{u}, OIDCardAuth, opts, DefaultCardValidity)
}

// IssuePlatform certifies pub, the ECDSA P-256 key with which the cloud
// platform signs receipts, under the common name name, and returns the
// certificate in DER. The certificate carries the extended key usage
// OIDReceiptSigning, the critical key usage digitalSignature, no subject
// alternative name and ca's CRL distribution point. It starts no earlier
// than ca's certificate (see IssueOptions.NotBefore). It returns an error
// matching ErrKey for another key type, ErrExpired when ca expires before
// the certificate would start and ErrInvalid for an empty name or one that
// is not valid UTF-8 (no certificate can carry it), a negative validity or
// one under a second, one that ends before ca's certificate starts, or a
// certificate that can be longer than MaxCertificateSize (a long name, or
// ca's subject and CRL URL, which are in it), counted as IssueCard counts
// it.
func (ca *CA) IssuePlatform(pub crypto.PublicKey, name string, opts IssueOptions) ([]byte, error) {
	if !ca.made() {
		return nil, errNoCA()
	}
	if name == "" {
		return nil, newError(ErrInvalid, -1, "the platform certificate needs a name", nil)
	}
	t, err := ca.leafTemplate(pkix.Name{CommonName: name}, nil, OIDReceiptSigning, opts, DefaultPlatformValidity)
	if err != nil {
		return nil, err
	}
	return ca.issueLeaf(pub, t)
}

// leafTemplate returns the template of a card or platform certificate of
// ca, of subject, uris and eku, for opts (validity the default of its
// kind), bound to ca's validity at the time of ca's clock: all but its
// key, subject key identifier and serial number, which issueLeaf sets. It
// refuses a subject no certificate can carry or a validity out of range
// (ErrInvalid) and a certificate that would start by the time ca ends
// (ErrExpired).
func (ca *CA) leafTemplate(subject pkix.Name, uris []*url.URL, eku x509.OID, opts IssueOptions, validity time.Duration) (*x509.Certificate, error) {
	if err := checkSubject(subject); err != nil {
		return nil, err
	}
	ext, err := ekuExtension(eku)
	if err != nil {
		return nil, err
	}
	if opts.Validity != 0 {
		if err := checkValidity(opts.Validity); err != nil {
			return nil, err
		}
		validity = opts.Validity
	}
	nb := opts.NotBefore
	if nb.IsZero() {
		nb = ca.now()
	}
	nb = nb.Truncate(time.Second)
	t := &x509.Certificate{
		Subject:               subject,
		NotBefore:             nb,
		NotAfter:              nb.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		URIs:                  uris,
		ExtraExtensions:       []pkix.Extension{ext},
	}
	if err := ca.bound(t); err != nil {
		return nil, err
	}
	return t, nil
}

// issueLeaf certifies pub, an ECDSA P-256 key, with t, a template of
// leafTemplate, to which it adds the key's subject key identifier and a
// serial number drawn from ca's source, once checkLeafSize has found that
// no certificate of t can be too long.
func (ca *CA) issueLeaf(pub crypto.PublicKey, t *x509.Certificate) ([]byte, error) {
	k, ok := leafKey(pub)
	if !ok {
		return nil, newError(ErrKey, -1, "the key must be ECDSA P-256", nil)
	}
	if err := ca.checkLeafSize(t); err != nil {
		return nil, err
	}
	// Signed, it is no longer than checkLeafSize counted: crypto/x509
	// verifies the signature, in DER, which is no longer than the longest.
	return ca.signLeaf(t, k, ca.rand, ca.key)
}

// signLeaf certifies k with t, a template of leafTemplate, to which it
// adds k's subject key identifier and a serial number drawn from src,
// signed by key for ca.
func (ca *CA) signLeaf(t *x509.Certificate, k *ecdsa.PublicKey, src io.Reader, key crypto.Signer) ([]byte, error) {
	skid, err := keyID(k)
	if err != nil {
		return nil, newError(ErrKey, -1, "invalid public key", err)
	}
	serial, err := randomSerial(src)
	if err != nil {
		return nil, err
	}
	t.SerialNumber, t.SubjectKeyId = serial, skid
	der, err := x509.CreateCertificate(src, t, ca.cert, k, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create certificate: %w", err)
	}
	return der, nil
}

// checkLeafSize refuses t, a template of leafTemplate, when a certificate
// that ca issues with it can be longer than MaxCertificateSize
// (ErrInvalid): the certificate of t for any ECDSA P-256 key (each is
// encoded in as many octets, and so is its subject key identifier), with
// the longest serial number that randomSerial draws and the longest DER
// encoding of a signature by ca's key. It signs nothing and draws nothing
// from ca's source: the TBSCertificate is made as signLeaf makes it, for a
// placeholder key, and its signature counted at its longest, so that
// whether a certificate of t is refused does not depend on the key, the
// serial number or the signature.
func (ca *CA) checkLeafSize(t *x509.Certificate) error {
	k, err := placeholderKey()
	if err != nil {
		return err
	}
	tbs := &tbsSigner{pub: ca.cert.PublicKey}
	c := *t // signLeaf sets its serial number and key identifier
	if _, err := ca.signLeaf(&c, k, allOnes{}, tbs); tbs.tbs == nil {
		// Refused before it was signed (never a success: tbsSigner
		// signs nothing).
		return err
	}
	pub, ok := ca.cert.PublicKey.(*ecdsa.PublicKey) // as every CA's (caSigner)
	if !ok {
		return errCAKeyCurve()
	}
	n, err := longestSigned(tbs.tbs, pub)
	if err != nil {
		return err
	}
	return checkSize(n, "can make")
}

// placeholderKey is the key certified in a card's place by checkLeafSize.
var placeholderKey = sync.OnceValues(func() (*ecdsa.PublicKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: placeholder key: %w", err)
	}
	return &k.PublicKey, nil
})

// allOnes reads as octets of all ones: randomSerial draws from it the
// longest serial number it can draw, 127 bits of ones.
type allOnes struct{}

func (allOnes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xff
	}
	return len(p), nil
}

// errNotSigned is the refusal of every signature by a tbsSigner.
var errNotSigned = errors.New("pki: not signed")

// tbsSigner stands in for a CA's key as a crypto.MessageSigner, which
// crypto/x509 hands the TBSCertificate to sign: it keeps it and signs
// nothing (errNotSigned).
type tbsSigner struct {
	pub crypto.PublicKey // the CA's, which crypto/x509 compares with the issuer's
	tbs []byte
}

func (s *tbsSigner) Public() crypto.PublicKey { return s.pub }

func (s *tbsSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errNotSigned
}

func (s *tbsSigner) SignMessage(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	s.tbs = bytes.Clone(msg)
	return nil, errNotSigned
}

// longestSigned returns the length of the certificate of tbs, a
// TBSCertificate in DER, signed by the key of pub with the longest DER
// encoding of an ECDSA signature: an Ecdsa-Sig-Value (RFC 3279 §2.2.3)
// of two integers of as many octets as the curve's order, each with its
// first bit set, before which DER puts a zero octet. Its
// signatureAlgorithm is the signature field of tbs (RFC 5280 §4.1.1.2).
func longestSigned(tbs []byte, pub *ecdsa.PublicKey) (int, error) {
	s := cryptobyte.String(tbs)
	var body, alg cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.SEQUENCE) ||
		!body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!body.SkipASN1(cbasn1.INTEGER) || !body.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return 0, errors.New("pki: size the certificate: malformed TBSCertificate")
	}
	order := (pub.Curve.Params().N.BitLen() + 7) / 8
	longest := new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, order))
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(0) // no unused bits
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1BigInt(longest)
				b.AddASN1BigInt(longest)
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return 0, fmt.Errorf("pki: size the certificate: %w", err)
	}
	return len(der), nil
}
