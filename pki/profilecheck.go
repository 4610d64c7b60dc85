package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func (v *Verifier) allowed(alg x509.SignatureAlgorithm) bool {
	return slices.Contains(v.algorithms, alg)
}

// check applies the profile to one chain built by x509.Verify from the
// chain presented to checkChain (leaf first, root last) and, if it passes,
// returns what the cache keeps. Its errors, and those of checkRevocation,
// name a certificate by its position in ch, which verify turns into its
// position in the chain presented (atPresented).
func (v *Verifier) check(ch []*x509.Certificate, r role, now time.Time) (*result, error) {
	n := len(ch)
	if n > v.maxDepth {
		return nil, newError(ErrUntrusted, -1, fmt.Sprintf("chain of %d certificates exceeds the depth limit %d", n, v.maxDepth), nil)
	}
	res := &result{chain: ch, expiry: ch[0].NotAfter}
	for i, c := range ch {
		if now.Before(c.NotBefore.Add(-v.skew)) {
			return nil, newError(ErrExpired, i, "not yet valid", nil)
		}
		if now.After(c.NotAfter.Add(v.skew)) {
			return nil, newError(ErrExpired, i, "expired", nil)
		}
		if from := c.NotBefore.Add(-v.skew); from.After(res.validFrom) {
			res.validFrom = from
		}
		if c.NotAfter.Before(res.expiry) {
			res.expiry = c.NotAfter
		}
		root := i == n-1 // trusted as configured: NewVerifier checked it is a CA of the profile (caProfile) with a CA key
		if !root && !v.allowed(c.SignatureAlgorithm) {
			return nil, newError(ErrUsage, i, "signature algorithm "+c.SignatureAlgorithm.String()+" not allowed", nil)
		}
		// A serial that AddCRL takes no CRL listing: such a certificate
		// could never be revoked.
		if !root && !validSerial(c.SerialNumber) {
			return nil, newError(ErrUsage, i, "serial number not positive or longer than 20 octets", nil)
		}
		// crypto/x509 builds a path through a parent whose subject key
		// identifier is not the authority key identifier too.
		if !root && !identifiedBy(c, ch[i+1]) {
			return nil, newError(ErrUsage, i, "authority key identifier is not the issuer's subject key identifier", nil)
		}
		if i == 0 {
			continue
		}
		// An intermediate is one of the certificates presented, each of
		// which checkChain found a CA of the profile (caProfile).
		if !root {
			if !caKey(c.PublicKey) {
				return nil, newError(ErrUsage, i, "CA key is not ECDSA P-256 or P-384", nil)
			}
			if !profileCRLDP(c) {
				return nil, newError(ErrUsage, i, "CA certificate "+crlDPWhy, nil)
			}
		}
		// An extended key usage on any CA, the root included, limits the
		// roles of the certificates below it.
		ekus, err := ExtKeyUsages(c)
		if err != nil {
			return nil, newError(ErrUsage, i, "extended key usage", err)
		}
		want, _ := r.eku()
		if ekus != nil && !hasOID(ekus, want) && !hasOID(ekus, oidAnyEKU) {
			return nil, newError(ErrUsage, i, "CA not authorized for this extended key usage", nil)
		}
	}
	if err := v.checkLeaf(ch[0], r, res); err != nil {
		return nil, err
	}
	if err := v.checkRevocation(ch, now, res); err != nil {
		return nil, err
	}
	return res, nil
}

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	// leafBasicConstraints and leafKeyUsage are the DER values of the
	// basic constraints and key usage of a card or platform certificate
	// (PROTOCOL.md §4.3), which IssueCard and IssuePlatform write, both
	// critical: CA:FALSE without a path length (an empty SEQUENCE), and a
	// BIT STRING of digitalSignature alone.
	leafBasicConstraints = []byte{0x30, 0x00}
	leafKeyUsage         = []byte{0x03, 0x02, 0x07, 0x80}
)

// caCertUsage is the key usage that a CA certificate must have: it
// certifies, and it signs CRLs.
const caCertUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign

// caProfile returns why c is not a CA certificate of the profile
// (PROTOCOL.md §4.3), or "" when it is: a critical basicConstraints of
// CA:TRUE, a critical keyUsage with keyCertSign and cRLSign (a CA
// without cRLSign signs no CRL that a verifier takes, so that no
// certificate it issued could be checked for revocation), and a subject
// key identifier, not empty (without one, no certificate it issued names
// it by key identifier, as identifiedBy requires). Its other key usage
// bits, its path length and the method of its key identifier are not
// checked: crypto/x509 applies the path length, and CAOptions.MaxPathLen
// lets a CA have another.
func caProfile(c *x509.Certificate) string {
	if bc, ok := extensionOf(c, oidBasicConstraints); !ok || !bc.Critical || !c.IsCA {
		return "without a critical basicConstraints of CA:TRUE"
	}
	if ku, ok := extensionOf(c, oidKeyUsage); !ok || !ku.Critical || c.KeyUsage&caCertUsage != caCertUsage {
		return "without a critical keyUsage with keyCertSign and cRLSign"
	}
	// crypto/x509 refuses a critical subject key identifier.
	if len(c.SubjectKeyId) == 0 {
		return "without a subject key identifier"
	}
	return ""
}

// unhandled returns why crypto/x509 verifies no chain with c, or "": a
// critical extension that it does not handle, which no certificate of the
// profile carries. It refuses such a card or platform certificate, and
// takes such a CA as the issuer of none.
func unhandled(c *x509.Certificate) string {
	if u := c.UnhandledCriticalExtensions; len(u) > 0 {
		return "critical extension " + u[0].String() + ", which crypto/x509 does not handle"
	}
	return ""
}

// unlimitedPath is the pathRoom of a CA whose path lengths, its own and
// those of the CAs above it, set no limit.
const unlimitedPath = math.MaxInt

// pathRoom returns how many CAs a path may hold below c, the last
// certificate not counted, as crypto/x509 counts them: c's own path
// length, and one less than parent, what the path leaves below c's
// issuer (unlimitedPath for a root, or an issuer without a limit).
func pathRoom(parent int, c *x509.Certificate) int {
	n := unlimitedPath
	if c.BasicConstraintsValid && c.MaxPathLen >= 0 {
		n = c.MaxPathLen
	}
	if parent != unlimitedPath && parent-1 < n {
		n = parent - 1
	}
	return n
}

// signs reports whether p issued c: p's subject is c's issuer name and p's
// key signs c, as crypto/x509 builds paths, and with keyIDs, c names p by
// key identifier too (identifiedBy).
func signs(p, c *x509.Certificate, keyIDs bool) bool {
	return bytes.Equal(p.RawSubject, c.RawIssuer) && (!keyIDs || identifiedBy(c, p)) && c.CheckSignatureFrom(p) == nil
}

// identifiedBy reports whether c names issuer as its issuer by key
// identifier, as PROTOCOL.md §4.3 has every certificate but a root do: c's
// authority key identifier holds a key identifier (crypto/x509 reads no
// other field of it, and refuses it critical) equal to issuer's subject
// key identifier, neither empty.
func identifiedBy(c, issuer *x509.Certificate) bool {
	return len(c.AuthorityKeyId) > 0 && bytes.Equal(c.AuthorityKeyId, issuer.SubjectKeyId)
}

// belowRootCA returns why c, a CA certificate below a root, is refused by
// the check of every path through it, whatever its issuer, or "": a
// serial number that no CRL a verifier takes may list (validSerial), or
// not the CRL distribution points of the profile (profileCRLDP). The
// check of a path also wants an allowed signature algorithm, which
// depends on the verifier, and an authority key identifier naming the
// issuer (identifiedBy).
func belowRootCA(c *x509.Certificate) string {
	if !validSerial(c.SerialNumber) {
		return "serial number not positive or longer than 20 octets"
	}
	if !profileCRLDP(c) {
		return crlDPWhy
	}
	return ""
}

// extensionOf returns c's extension id, if c carries it (crypto/x509
// refuses a certificate that carries an extension twice).
func extensionOf(c *x509.Certificate, id asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

// criticalValue reports whether c carries the extension id, critical, with
// the value want.
func criticalValue(c *x509.Certificate, id asn1.ObjectIdentifier, want []byte) bool {
	e, ok := extensionOf(c, id)
	return ok && e.Critical && bytes.Equal(e.Value, want)
}

// checkLeaf applies the profile of a card or platform certificate (r) to
// c, the first certificate of a path, and sets res.pub, res.notAfter and
// res.id, or returns the refusal, of Cert 0: ErrUsage for a CA
// certificate, a basicConstraints other than critical CA:FALSE without a
// path length or a keyUsage other than critical digitalSignature alone
// (each compared with its one DER encoding), a key other than ECDSA
// P-256, no subject key identifier, not the CRL distribution points of
// the profile (profileCRLDP), an extended key usage critical, malformed,
// without the role's or with the other role's or anyExtendedKeyUsage, and
// then, for the platform, a subject other than one common name, not
// empty, or a subject alternative name, and for a card, a critical
// subject alternative name; a card's other refusals are CardID's
// (ErrCardID).
func (v *Verifier) checkLeaf(c *x509.Certificate, r role, res *result) error {
	if c.IsCA {
		return newError(ErrUsage, 0, "a CA certificate cannot be a card or platform certificate", nil)
	}
	if !criticalValue(c, oidBasicConstraints, leafBasicConstraints) {
		return newError(ErrUsage, 0, "basic constraints other than critical CA:FALSE without a path length", nil)
	}
	if !criticalValue(c, oidKeyUsage, leafKeyUsage) {
		return newError(ErrUsage, 0, "key usage other than critical digitalSignature alone", nil)
	}
	pub, ok := leafKey(c.PublicKey)
	if !ok {
		return newError(ErrUsage, 0, "key is not ECDSA P-256", nil)
	}
	// crypto/x509 refuses a critical subject key identifier.
	if len(c.SubjectKeyId) == 0 {
		return newError(ErrUsage, 0, "no subject key identifier", nil)
	}
	if !profileCRLDP(c) {
		return newError(ErrUsage, 0, crlDPWhy, nil)
	}
	if e, ok := extensionOf(c, oidExtKeyUsage); ok && e.Critical {
		return newError(ErrUsage, 0, "critical extended key usage", nil)
	}
	ekus, err := ExtKeyUsages(c)
	if err != nil {
		return newError(ErrUsage, 0, "extended key usage", err)
	}
	want, other := r.eku()
	if !hasOID(ekus, want) {
		return newError(ErrUsage, 0, "extended key usage "+want.String()+" missing", nil)
	}
	if hasOID(ekus, other) || hasOID(ekus, oidAnyEKU) {
		return newError(ErrUsage, 0, "extended key usage also allows another role", nil)
	}
	res.pub = pub
	res.notAfter = c.NotAfter
	if r == rolePlatform {
		// Names holds every attribute of the subject, of every RDN.
		if n := c.Subject.Names; len(n) != 1 || !n[0].Type.Equal(oidCommonName) || c.Subject.CommonName == "" {
			return newError(ErrUsage, 0, "platform subject is not one common name, not empty", nil)
		}
		if _, ok := extensionOf(c, oidSubjectAltName); ok {
			return newError(ErrUsage, 0, "platform certificate with a subject alternative name", nil)
		}
		res.id = c.Subject.CommonName
		return nil
	}
	if e, ok := extensionOf(c, oidSubjectAltName); ok && e.Critical {
		return newError(ErrUsage, 0, "critical subject alternative name", nil)
	}
	id, err := CardID(c)
	if err != nil {
		return err
	}
	res.id = id
	return nil
}

var oidCRLDistributionPoints = asn1.ObjectIdentifier{2, 5, 29, 31}

// crlDPWhy is why a certificate is refused that profileCRLDP refuses.
const crlDPWhy = "CRL distribution points other than non-critical full names of URIs, without reasons or CRL issuer"

// profileCRLDP reports whether c carries the CRL distribution points of
// the profile (PROTOCOL.md §4.3), non-critical: one point or more, each
// the full name of one URI or more, not empty, and nothing else: no
// reasons, which would scope the CRL there to some, and no CRL issuer,
// which would have another CA than the issuer publish its revocation (an
// indirect CRL, which a verifier does not take). crypto/x509 reads the
// URIs of such points and drops the rest.
func profileCRLDP(c *x509.Certificate) bool {
	e, ok := extensionOf(c, oidCRLDistributionPoints)
	if !ok || e.Critical {
		return false
	}
	s := cryptobyte.String(e.Value)
	var points cryptobyte.String
	if !s.ReadASN1(&points, cbasn1.SEQUENCE) || !s.Empty() || points.Empty() {
		return false
	}
	for !points.Empty() {
		var point, name, uris cryptobyte.String
		if !points.ReadASN1(&point, cbasn1.SEQUENCE) ||
			!point.ReadASN1(&name, cbasn1.Tag(0).Constructed().ContextSpecific()) || !point.Empty() ||
			!name.ReadASN1(&uris, cbasn1.Tag(0).Constructed().ContextSpecific()) || !name.Empty() || uris.Empty() {
			return false
		}
		for !uris.Empty() {
			var uri cryptobyte.String
			if !uris.ReadASN1(&uri, cbasn1.Tag(6).ContextSpecific()) || uri.Empty() {
				return false
			}
		}
	}
	return true
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCommonName     = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// CardID returns the ICCID that the card certificate c names, as a
// verifier reads it: c's subject alternative name extension must hold
// exactly one GeneralName, a URI that is CardURIPrefix followed by a valid
// ICCID, byte for byte. It checks nothing else of c. Otherwise it returns
// an *Error matching ErrCardID, of Cert 0 (c itself), or of Cert -1 for a
// nil c.
func CardID(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", newError(ErrCardID, -1, "no certificate", nil)
	}
	san, ok := extensionOf(c, oidSubjectAltName)
	if !ok {
		return "", newError(ErrCardID, 0, "no subject alternative name", nil)
	}
	s := cryptobyte.String(san.Value)
	var names cryptobyte.String
	if !s.ReadASN1(&names, cbasn1.SEQUENCE) || !s.Empty() {
		return "", newError(ErrCardID, 0, "malformed subject alternative name", nil)
	}
	var uri cryptobyte.String
	var tag cbasn1.Tag
	if !names.ReadAnyASN1(&uri, &tag) {
		return "", newError(ErrCardID, 0, "empty subject alternative name", nil)
	}
	if !names.Empty() {
		return "", newError(ErrCardID, 0, "more than one subject alternative name", nil)
	}
	if tag != cbasn1.Tag(6).ContextSpecific() {
		return "", newError(ErrCardID, 0, "subject alternative name is not a URI", nil)
	}
	id, err := ParseCardURI(string(uri))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.Cert = 0
		}
		return "", err
	}
	return id, nil
}

// certificateEncoding returns why c is refused for what crypto/x509 parses
// and DER or RFC 5280 do not have, each another encoding of the same
// certificate, or "": a notBefore or notAfter not encoded as RFC 5280
// §4.1.2.5 has it (readTime), other bytes after the notAfter in the
// validity, which crypto/x509 does not look at, an ECDSA signature
// algorithm with parameters (signatureAlgorithmEncoding), an issuer or a
// subject not in DER (nameEncoding), a subjectPublicKeyInfo with other
// bytes after its subjectPublicKey, an ECDSA key algorithm with more than
// its namedCurve or an ECDSA key with unused bits (keyInfoEncoding),
// an extension whose critical is written out as FALSE or with other bytes
// after its value (extensionsEncoding), other bytes after the extensions
// (readExtensions), or a basicConstraints, keyUsage, extKeyUsage, key
// identifier or certificatePolicies value not in DER
// (extensionValueEncoding), or an issuerUniqueID or subjectUniqueID, which
// RFC 5280 §4.1.2.8 has a CA not write and crypto/x509 skips without
// reading. It reads c.RawTBSCertificate, which crypto/x509 parsed: the
// version, the serial number, the signature algorithm, the issuer, the
// validity, the subject, the key, the unique identifiers and the
// extensions.
func certificateEncoding(c *x509.Certificate) string {
	s := cryptobyte.String(c.RawTBSCertificate)
	var tbs, alg, validity cryptobyte.String
	if !s.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipASN1(cbasn1.INTEGER) || !tbs.ReadASN1(&alg, cbasn1.SEQUENCE) || !tbs.SkipASN1(cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&validity, cbasn1.SEQUENCE) {
		return "validity not found"
	}
	if why := signatureAlgorithmEncoding(alg); why != "" {
		return why
	}
	if why := nameEncoding(c.RawIssuer); why != "" {
		return "issuer " + why
	}
	if why := nameEncoding(c.RawSubject); why != "" {
		return "subject " + why
	}
	for _, field := range []string{"notBefore", "notAfter"} {
		if why := readTime(&validity); why != "" {
			return field + " " + why
		}
	}
	if !validity.Empty() {
		return "validity with bytes after its notAfter"
	}
	var info cryptobyte.String
	if !tbs.SkipASN1(cbasn1.SEQUENCE) || !tbs.ReadASN1(&info, cbasn1.SEQUENCE) { // the subject and the key
		return "extensions not found"
	}
	if why := keyInfoEncoding(info); why != "" {
		return why
	}
	// crypto/x509 skips the unique identifiers without reading them.
	if tbs.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific()) {
		return "issuerUniqueID, which RFC 5280 has a CA not write"
	}
	if tbs.PeekASN1Tag(cbasn1.Tag(2).ContextSpecific()) {
		return "subjectUniqueID, which RFC 5280 has a CA not write"
	}
	exts, why := readExtensions(&tbs, 3)
	if why == errNotExtensions {
		return "extensions not found"
	}
	if why != "" {
		return why
	}
	if why := extensionsEncoding(exts); why != "" {
		return "extension " + why
	}
	return ""
}

// nameEncoding returns why name, the issuer or the subject of a
// certificate that crypto/x509 parsed, is refused, or "": a
// RelativeDistinguishedName that is empty, where RFC 5280 §4.1.2.4 has
// one attribute or more (crypto/x509 drops it), whose attributes are not
// in the ascending order of their encodings that DER has in a SET OF
// (X.690 §11.6), or with an attribute that holds other bytes after its
// value, which crypto/x509 does not look at. Each is another encoding of
// the same name, which crypto/x509 compares byte for byte (a certificate
// names its issuer by the issuer's subject as encoded), as a verifier does
// to find the CRL of an issuer (issuerKey). The type of the value of an
// attribute, one of the string types that crypto/x509 reads, is the
// issuer's to choose and is not checked. The issuer of a CRL needs no
// check of its own: AddCRL takes a CRL only of the subject of a CA, byte
// for byte.
func nameEncoding(name cryptobyte.String) string {
	var rdns cryptobyte.String
	if !name.ReadASN1(&rdns, cbasn1.SEQUENCE) || !name.Empty() {
		return "not a Name"
	}
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, cbasn1.SET) {
			return "not a Name"
		}
		if set.Empty() {
			return "with an empty RelativeDistinguishedName, which RFC 5280 has of one attribute or more"
		}
		var previous cryptobyte.String
		for !set.Empty() {
			var atav, fields, value cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1Element(&atav, cbasn1.SEQUENCE) {
				return "not a Name"
			}
			if previous != nil && bytes.Compare(previous, atav) > 0 {
				return "with the attributes of a RelativeDistinguishedName out of the order of their encodings that DER has"
			}
			previous = atav
			if !atav.ReadASN1(&fields, cbasn1.SEQUENCE) || !fields.SkipASN1(cbasn1.OBJECT_IDENTIFIER) || !fields.ReadAnyASN1(&value, &tag) {
				return "not a Name"
			}
			if !fields.Empty() {
				return "with bytes after the value of an attribute"
			}
		}
	}
	return ""
}

// ecdsaSignatures are the ECDSA signature algorithms (RFC 5758 §3.2, RFC
// 3279 §2.2.3).
var ecdsaSignatures = []struct {
	id   asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, "ecdsa-with-SHA1"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, "ecdsa-with-SHA256"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, "ecdsa-with-SHA384"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, "ecdsa-with-SHA512"},
}

// signatureAlgorithmEncoding returns why alg, the content of the
// signature AlgorithmIdentifier of the signed content of a certificate or
// a CRL that crypto/x509 parsed (which requires the one after the signed
// content to be the same bytes), is refused, or "": an ECDSA algorithm
// with parameters, which RFC 5758 §3.2 (and RFC 3279 §2.2.3, for SHA-1)
// has absent and crypto/x509 does not look at, another encoding of the
// same algorithm. Another algorithm, which the allow-list refuses, is not
// read.
func signatureAlgorithmEncoding(alg cryptobyte.String) string {
	var id asn1.ObjectIdentifier
	if !alg.ReadASN1ObjectIdentifier(&id) {
		return "signature algorithm not found"
	}
	for _, e := range ecdsaSignatures {
		if id.Equal(e.id) && !alg.Empty() {
			return "signature algorithm " + e.name + " with parameters, which RFC 5758 has absent"
		}
	}
	return ""
}

// oidECPublicKey is id-ecPublicKey (RFC 5480 §2.1.1), the algorithm of
// an ECDSA key.
var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// keyInfoEncoding returns why info, the content of a subjectPublicKeyInfo
// that crypto/x509 parsed, is refused, or "": other bytes after its
// subjectPublicKey BIT STRING, whatever its algorithm, or, for an ECDSA
// key, anything but the namedCurve OBJECT IDENTIFIER in the algorithm
// after its identifier (RFC 5480 §2.1.1), at which crypto/x509 does not
// look, or, for an ECDSA key, a subjectPublicKey with unused bits, which
// crypto/x509 shifts off (an uncompressed point starts with 5 zero bits)
// and RFC 5480 §2.2 does not have: the octets of the point are those of
// the BIT STRING, whole. The key so encoded is another encoding of the
// same key, under which a verifier, finding the CRL of an issuer by its
// name and subjectPublicKeyInfo (issuerKey), finds none of those held.
// The parameters and the key of another algorithm, which the profile
// refuses, are not read.
func keyInfoEncoding(info cryptobyte.String) string {
	var alg cryptobyte.String
	var key asn1.BitString
	var id asn1.ObjectIdentifier
	if !info.ReadASN1(&alg, cbasn1.SEQUENCE) || !info.ReadASN1BitString(&key) || !alg.ReadASN1ObjectIdentifier(&id) {
		return "subjectPublicKeyInfo not an algorithm and a subjectPublicKey"
	}
	if !info.Empty() {
		return "subjectPublicKeyInfo with bytes after its subjectPublicKey"
	}
	if !id.Equal(oidECPublicKey) {
		return ""
	}
	if !alg.SkipASN1(cbasn1.OBJECT_IDENTIFIER) || !alg.Empty() {
		return "ECDSA key algorithm with more than a namedCurve, which RFC 5480 has alone"
	}
	if key.BitLength%8 != 0 {
		return "subjectPublicKey with unused bits, where RFC 5480 has the octets of the point whole"
	}
	return ""
}

// readExtensions reads from s, what is left of the signed content of a
// certificate or a CRL, its optional [tag] EXPLICIT Extensions (3 of a
// certificate, 0 of a CRL), the last of its fields, and returns the
// content of its SEQUENCE, empty when absent, or why s is refused:
// errNotExtensions when s holds something else there, errAfterExtensions
// when it holds other bytes after the SEQUENCE, inside the [tag] or after
// it, which crypto/x509 does not look at (another encoding of the same
// certificate or CRL).
func readExtensions(s *cryptobyte.String, tag cbasn1.Tag) (cryptobyte.String, string) {
	var outer, exts cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&outer, &present, tag.Constructed().ContextSpecific()) ||
		(present && !outer.ReadASN1(&exts, cbasn1.SEQUENCE)) {
		return nil, errNotExtensions
	}
	if !outer.Empty() || !s.Empty() {
		return nil, errAfterExtensions
	}
	return exts, ""
}

// The refusals of readExtensions.
const (
	errNotExtensions   = "not extensions"
	errAfterExtensions = "bytes after its extensions"
)

// extensionsEncoding returns why exts, the content of an Extensions
// SEQUENCE of a certificate, a CRL or a CRL entry that crypto/x509
// parsed, is refused, or "": an extension whose critical BOOLEAN is
// written out as FALSE, its DEFAULT, which DER leaves out (X.690 §11.5):
// another encoding of the extension without it; one with other bytes
// after its value (extnValue, its last field), which crypto/x509 does not
// look at; or one whose value extensionValueEncoding refuses.
func extensionsEncoding(exts cryptobyte.String) string {
	for !exts.Empty() {
		var ext, raw, value cryptobyte.String
		var id x509.OID
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&raw, cbasn1.OBJECT_IDENTIFIER) || id.UnmarshalBinary(raw) != nil {
			return "not an extension"
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			var critical bool
			if !ext.ReadASN1Boolean(&critical) {
				return "not an extension"
			}
			if !critical {
				return id.String() + " with critical written out as FALSE, which DER leaves out"
			}
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) {
			return "not an extension"
		}
		if !ext.Empty() {
			return id.String() + " with bytes after its value"
		}
		if why := extensionValueEncoding(id, value); why != "" {
			return id.String() + " " + why
		}
	}
	return ""
}

// oneElement are the extensions whose value is one element of tag, which
// crypto/x509 reads without looking at what follows it:
// extensionValueEncoding refuses bytes after it. crypto/x509 (or
// parseEKU, for a KeyPurposeId with an arc beyond 64 bits) reads what
// the element holds in DER only.
var oneElement = []struct {
	id   asn1.ObjectIdentifier
	tag  cbasn1.Tag
	name string
	what string // the element
}{
	{oidExtKeyUsage, cbasn1.SEQUENCE, "extKeyUsage", "SEQUENCE of KeyPurposeId"},
	{oidSubjectKeyID, cbasn1.OCTET_STRING, "subjectKeyIdentifier", "OCTET STRING"},
	{oidCRLNumber, cbasn1.INTEGER, "cRLNumber", "INTEGER"},
	{oidReasonCode, cbasn1.ENUM, "reasonCode", "ENUMERATED"},
}

// extensionValueEncoding returns why value, the value of an extension id
// of a certificate, a CRL or a CRL entry that crypto/x509 parsed, is
// refused, or "": a basicConstraints, keyUsage, extKeyUsage,
// subjectKeyIdentifier, authorityKeyIdentifier or certificatePolicies
// value, or a CRL's cRLNumber or an entry's reasonCode, that is not the
// one DER encoding of what it holds, which crypto/x509 reads all the
// same: bytes after its SEQUENCE, BIT STRING, OCTET STRING, INTEGER or
// ENUMERATED, a field after those of a basicConstraints (cA,
// pathLenConstraint) or of an authorityKeyIdentifier, a certificatePolicies
// that policiesInDER refuses, or a keyUsage with trailing zero bits, which
// DER leaves out of a named bit list (X.690 §11.2.2). A length or an
// INTEGER not in its shortest form crypto/x509 refuses itself, as a
// malformed certificate or CRL.
func extensionValueEncoding(id x509.OID, value cryptobyte.String) string {
	for _, e := range oneElement {
		if id.EqualASN1OID(e.id) {
			if !value.SkipASN1(e.tag) || !value.Empty() {
				return "(" + e.name + ") with more than its " + e.what
			}
			return ""
		}
	}
	switch {
	case id.EqualASN1OID(oidBasicConstraints):
		var fields cryptobyte.String
		if !value.ReadASN1(&fields, cbasn1.SEQUENCE) || !value.Empty() ||
			!fields.SkipOptionalASN1(cbasn1.BOOLEAN) || !fields.SkipOptionalASN1(cbasn1.INTEGER) || !fields.Empty() {
			return "(basicConstraints) with more than its SEQUENCE of cA and pathLenConstraint"
		}
	case id.EqualASN1OID(oidAuthorityKeyID):
		var fields cryptobyte.String
		if !value.ReadASN1(&fields, cbasn1.SEQUENCE) || !value.Empty() ||
			!fields.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific()) ||
			!fields.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) ||
			!fields.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific()) || !fields.Empty() {
			return "(authorityKeyIdentifier) with more than its SEQUENCE of keyIdentifier, authorityCertIssuer and authorityCertSerialNumber"
		}
	case id.EqualASN1OID(oidCertificatePolicies):
		if !policiesInDER(value) {
			return "(certificatePolicies) with more than its SEQUENCE of PolicyInformation, each a policyIdentifier and its policyQualifiers"
		}
	case id.EqualASN1OID(oidKeyUsage):
		var bits cryptobyte.String
		if !value.ReadASN1(&bits, cbasn1.BIT_STRING) || !value.Empty() || len(bits) == 0 {
			return "(keyUsage) with more than its BIT STRING"
		}
		// The first octet counts the unused bits of the last, which
		// crypto/x509 has checked (0 to 7, and 0 without another octet).
		if n := len(bits); n > 1 && bits[n-1]&(1<<bits[0]) == 0 {
			return "(keyUsage) with trailing zero bits, which DER leaves out"
		}
	}
	return ""
}

// oidCertificatePolicies is the certificatePolicies extension, whose
// policy identifiers crypto/x509 reads (Policies) and applies when it
// builds a path, reading neither what follows its SEQUENCE nor what
// follows the policyIdentifier of each PolicyInformation.
var oidCertificatePolicies = asn1.ObjectIdentifier{2, 5, 29, 32}

// policiesInDER reports whether value, a certificatePolicies value that
// crypto/x509 parsed, is the SEQUENCE of one PolicyInformation or more
// that RFC 5280 §4.2.1.4 has, with nothing after it, each
// PolicyInformation a policyIdentifier followed by nothing or by a
// SEQUENCE of policyQualifiers, not empty, whose content, which neither
// crypto/x509 nor the profile reads, is not checked.
func policiesInDER(value cryptobyte.String) bool {
	var policies cryptobyte.String
	if !value.ReadASN1(&policies, cbasn1.SEQUENCE) || !value.Empty() || policies.Empty() {
		return false
	}
	for !policies.Empty() {
		var info, qualifiers cryptobyte.String
		var present bool
		if !policies.ReadASN1(&info, cbasn1.SEQUENCE) || !info.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
			!info.ReadOptionalASN1(&qualifiers, &present, cbasn1.SEQUENCE) || !info.Empty() ||
			(present && qualifiers.Empty()) {
			return false
		}
	}
	return true
}

// readTime reads a Time of a certificate or CRL from s and returns why it
// is refused, or "": not a UTCTime nor a GeneralizedTime; not in the one
// form RFC 5280 has (§4.1.2.5.1, §4.1.2.5.2), in UTC ("Z") with seconds
// and no fraction of one, where crypto/x509 takes an offset from UTC, and
// a UTCTime without seconds; or a GeneralizedTime of a year that a UTCTime
// holds, 1950 to 2049 in UTC, where RFC 5280 has a UTCTime (§4.1.2.5,
// §5.1.2.4). Each is another encoding of the same time. A GeneralizedTime
// before 1950, which no UTCTime holds, is taken, as crypto/x509 writes
// it.
func readTime(s *cryptobyte.String) string {
	var t time.Time
	var content cryptobyte.String
	layout, form := "060102150405Z", "YYMMDDHHMMSSZ"
	elem := *s
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) || !elem.ReadASN1(&content, cbasn1.UTCTime) {
			return "not a time"
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t) || !elem.ReadASN1(&content, cbasn1.GeneralizedTime) {
			return "not a time"
		}
		layout, form = "20060102150405Z", "YYYYMMDDHHMMSSZ"
		if y := t.UTC().Year(); y >= 1950 && y <= 2049 {
			return fmt.Sprintf("encoded as GeneralizedTime in %d, where RFC 5280 has a UTCTime", y)
		}
	default:
		return "not a time"
	}
	if string(content) != t.UTC().Format(layout) {
		return "not in UTC with seconds (" + form + "), as RFC 5280 has it"
	}
	return ""
}
