package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// heldCRL is the latest accepted CRL of one issuer.
type heldCRL struct {
	tbs        []byte // the signed content, RawTBSRevocationList
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	revoked    map[string]struct{} // serial numbers, as serialKey
}

// issuerKey names a CA by its subject and key, so that a CRL is applied only
// to certificates whose issuer's key signed it.
func issuerKey(c *x509.Certificate) string {
	h := sha256.New()
	h.Write(c.RawSubject)
	h.Write(c.RawSubjectPublicKeyInfo)
	return string(h.Sum(nil))
}

func serialKey(n *big.Int) string { return n.Text(16) }

// lists reports whether the CRL, if there is one, lists the serial
// number serial (a serialKey).
func (h *heldCRL) lists(serial string) bool {
	if h == nil {
		return false
	}
	_, ok := h.revoked[serial]
	return ok
}

var (
	oidCRLNumber                = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode               = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidAuthorityKeyID           = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCertificateIssuer        = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// checkComplete refuses a CRL that is not, or may not be, the complete
// list of the certificates its issuer revoked: a delta CRL, which lists
// only the changes since a base CRL (RFC 5280 §5.2.4); one with an issuing
// distribution point, which may scope it to some certificates or reasons
// or make it indirect (§5.2.5); one whose entry names a certificate issuer,
// which makes it and the entries after it about another CA's certificates
// (§5.3.3); one with an entry whose reason is removeFromCRL, which only a
// delta CRL carries (§5.3.1), so that the CRL is not the complete list it
// claims to be and the entry says neither revoked nor not; and one with
// any other critical extension, or an entry with a critical extension
// other than the reason code, whose meaning the verifier does not know. It
// also refuses an entry whose reason code RFC 5280 does not define, which
// IssueCRL never writes, and a CRL or entry that carries an extension
// twice (repeated), whose meaning is not one. RFC 5280 has the first three
// critical, but they are refused critical or not: a CA that marks one
// non-critical by mistake still means it, and taking such a CRL for the
// complete list would drop every revocation of the CRL held that it does
// not repeat.
func checkComplete(crl *x509.RevocationList) error {
	if id, ok := repeated(crl.Extensions); ok {
		return newError(ErrCRL, -1, "CRL extension "+id.String()+" twice", nil)
	}
	for _, e := range crl.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return newError(ErrCRL, -1, "delta CRL (delta CRL indicator): only complete CRLs are accepted", nil)
		case e.Id.Equal(oidIssuingDistributionPoint):
			return newError(ErrCRL, -1, "CRL with an issuing distribution point: only complete CRLs are accepted", nil)
		case e.Critical:
			return newError(ErrCRL, -1, "unsupported critical CRL extension "+e.Id.String(), nil)
		}
	}
	for _, e := range crl.RevokedCertificateEntries {
		if id, ok := repeated(e.Extensions); ok {
			return newError(ErrCRL, -1, "CRL entry extension "+id.String()+" twice", nil)
		}
		if e.ReasonCode == reasonRemoveFromCRL {
			return newError(ErrCRL, -1, "an entry's reason is removeFromCRL, which only delta CRLs carry", nil)
		}
		if !definedReason(e.ReasonCode) {
			return newError(ErrCRL, -1, "an entry's reason code is not one RFC 5280 defines", nil)
		}
		for _, x := range e.Extensions {
			switch {
			case x.Id.Equal(oidCertificateIssuer):
				return newError(ErrCRL, -1, "indirect CRL: an entry names a certificate issuer", nil)
			case x.Critical && !x.Id.Equal(oidReasonCode):
				return newError(ErrCRL, -1, "unsupported critical CRL entry extension "+x.Id.String(), nil)
			}
		}
	}
	return nil
}

// repeated returns the first extension of exts that exts carries more
// than once, and whether there is one. crypto/x509 refuses a certificate
// that carries an extension twice, but not a CRL or a CRL entry, of
// which it reads the last CRL number, authority key identifier or reason
// code. It takes a time linear in the number of extensions, of which
// AddCRL reads those of a CRL whose signature holds only.
func repeated(exts []pkix.Extension) (asn1.ObjectIdentifier, bool) {
	if len(exts) < 2 {
		return nil, false
	}
	seen := make(map[string]struct{}, len(exts))
	for _, e := range exts {
		id := e.Id.String()
		if _, ok := seen[id]; ok {
			return e.Id, true
		}
		seen[id] = struct{}{}
	}
	return nil, false
}

// checkListEncoding refuses (ErrCRL) what crypto/x509 takes in tbs, the
// signed content of a CRL that it parsed, and RFC 5280 does not: a list of
// revoked certificates present but empty, where §5.1.2.6 has it absent
// (another encoding of the CRL without it, which crypto/x509 parses the
// same), an entry's list of extensions present but empty, where §5.1 has
// one extension or more or none (another encoding of the entry without
// it), an extension of the CRL or of an entry whose critical is written
// out as FALSE or whose value is not in DER (extensionsEncoding), an ECDSA
// signature algorithm with parameters (signatureAlgorithmEncoding), other
// bytes after the CRL's extensions (readExtensions) or after the fields
// of an entry (its serial number, revocation date and extensions), which
// crypto/x509 does not look at, and a thisUpdate, nextUpdate or entry's
// revocationDate that is not encoded as §5.1.2.4 to §5.1.2.6 have it
// (readTime).
func checkListEncoding(tbs []byte) error {
	malformed := func(why string) error { return newError(ErrCRL, -1, "malformed CRL: "+why, nil) }
	s := cryptobyte.String(tbs)
	var body, alg cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipOptionalASN1(cbasn1.INTEGER) ||
		!body.ReadASN1(&alg, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) {
		return malformed("list header")
	}
	if why := signatureAlgorithmEncoding(alg); why != "" {
		return malformed(why)
	}
	if why := readTime(&body); why != "" {
		return malformed("thisUpdate " + why)
	}
	if body.PeekASN1Tag(cbasn1.UTCTime) || body.PeekASN1Tag(cbasn1.GeneralizedTime) {
		if why := readTime(&body); why != "" {
			return malformed("nextUpdate " + why)
		}
	}
	// optional reads a list that s may hold, refusing it present but
	// empty.
	optional := func(s *cryptobyte.String, what string) (cryptobyte.String, error) {
		var list cryptobyte.String
		var present bool
		if !s.ReadOptionalASN1(&list, &present, cbasn1.SEQUENCE) {
			return nil, malformed(what)
		}
		if present && list.Empty() {
			return nil, malformed("an empty " + what + ", which RFC 5280 has absent")
		}
		return list, nil
	}
	list, err := optional(&body, "list of revoked certificates")
	if err != nil {
		return err
	}
	for !list.Empty() {
		var entry cryptobyte.String
		if !list.ReadASN1(&entry, cbasn1.SEQUENCE) || !entry.SkipASN1(cbasn1.INTEGER) {
			return malformed("list of revoked certificates")
		}
		if why := readTime(&entry); why != "" {
			return malformed("an entry's revocationDate " + why)
		}
		entryExts, err := optional(&entry, "list of entry extensions")
		if err != nil {
			return err
		}
		if !entry.Empty() {
			return malformed("an entry with bytes after its fields")
		}
		if why := extensionsEncoding(entryExts); why != "" {
			return malformed("an entry's extension " + why)
		}
	}
	crlExts, why := readExtensions(&body, 0)
	if why == errNotExtensions {
		return malformed("CRL extensions")
	}
	if why != "" {
		return malformed(why)
	}
	if why := extensionsEncoding(crlExts); why != "" {
		return malformed("CRL extension " + why)
	}
	return nil
}

// AddCRL accepts a CRL (DER, of at most MaxCRLSize octets, with nothing
// after it, nor after its signature inside its SEQUENCE, where the
// signature does not reach and anyone may add bytes, nor with a signature
// BIT STRING with unused bits, which crypto/x509 shifts off and anyone may
// write, nor after its extensions, nor after the fields of an entry or the
// value of any extension, nor after the value of its CRL number, authority
// key identifier or an entry's reason code, nor a field after keyIdentifier,
// authorityCertIssuer and authorityCertSerialNumber in its authority key
// identifier, as a certificate's is refused, without an empty list of
// revoked certificates or of an entry's extensions, which RFC 5280 has
// absent, without parameters of its ECDSA signature algorithm, which RFC
// 5758 has absent, without an extension whose critical is written out as
// FALSE, its DEFAULT, which DER leaves out, and with every time encoded as
// RFC 5280 §5.1.2.4 to §5.1.2.6 have it: in UTC with seconds, a UTCTime
// through 2049, a GeneralizedTime from 2050 on or before 1950) for later
// verifications. The CRL must be signed with an allowed algorithm by a
// trusted root or one of the intermediates of the options (whose key usage
// includes cRLSign, as NewVerifier requires), of the CRL's issuer name and
// of the subject key identifier that the CRL's authority key identifier
// holds (PROTOCOL.md §4.4: every CRL carries one, with a key identifier;
// NewVerifier requires a subject key identifier of every CA), carry a CRL
// number of at most 20 octets (RFC 5280 §5.2.3), list only serial numbers
// that are positive and at most 20 octets (§4.1.2.2), carry a next update
// later than its this update (RFC 5280 §5.1.2.5), be current (this update
// not in the future and next update not past, allowing for the skew; a this
// update in the future, or a next update past, is refused with a reason
// naming it, the time checked and the skew, as a chain refused for such a
// CRL held names them), be complete (no delta CRL indicator, issuing
// distribution point or entry naming a certificate issuer, critical or not;
// no entry whose reason is removeFromCRL; no other critical extension, nor
// critical entry extension but the reason code), carry no extension twice,
// nor an entry that does, carry no entry whose reason code RFC 5280 does not
// define (7, or outside 0 to 10), and not be older than the CRL held for the
// same issuer: a lower number is refused; one of the same number is the CRL
// held when its signed content (RawTBSRevocationList) is the same, whatever
// its signature, and is then accepted and changes nothing (the CA signing
// the same content again, or the other valid ECDSA signature anyone can make
// of the CA's, s turned into n-s, whichever arrives first), and is refused
// when its content differs. A CRL refused leaves the CRL held in force. No
// chain verified before a CRL taken in place of the one held is served from
// the cache after it (the cache is emptied). A CRL longer than MaxCRLSize is
// refused as malformed before it is parsed, and the signature of a CRL
// is checked before its entries and extensions are read (its encoding,
// completeness, repeated extensions and serial numbers), so that a CRL
// that no CA of the verifier signed is refused for its signature without
// work that grows with their number but its parsing. Errors match
// ErrCRL, but that of a nil or zero Verifier, which takes no CRL:
// ErrInvalid.
func (v *Verifier) AddCRL(der []byte) error {
	if !v.made() {
		return errNoVerifier()
	}
	if len(der) > MaxCRLSize {
		return newError(ErrCRL, -1, "malformed CRL", fmt.Errorf("%w: %d octets", errCRLSize, len(der)))
	}
	now := v.now()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return newError(ErrCRL, -1, "malformed CRL", err)
	}
	// crypto/x509 parses the first DER element and ignores what follows
	// it: bytes after the CRL are refused rather than read as the CRL.
	if len(crl.Raw) != len(der) {
		return newError(ErrCRL, -1, "malformed CRL: trailing data", nil)
	}
	// Nor does it look at bytes after the signature, inside the CRL's
	// SEQUENCE, or at the unused bits of the signature, which anyone may
	// write.
	if err := signatureEncoding(der); err != nil {
		return newError(ErrCRL, -1, "malformed CRL: "+err.Error(), nil)
	}
	if !v.allowed(crl.SignatureAlgorithm) {
		return newError(ErrCRL, -1, "signature algorithm "+crl.SignatureAlgorithm.String()+" not allowed", nil)
	}
	if crl.Number == nil {
		return newError(ErrCRL, -1, "CRL without a CRL number", nil)
	}
	// RFC 5280 §5.2.3: a non-negative integer.
	if crl.Number.Sign() < 0 {
		return newError(ErrCRL, -1, "negative CRL number", nil)
	}
	if crl.Number.BitLen() > maxIntegerBits {
		return newError(ErrCRL, -1, "CRL number longer than 20 octets", nil)
	}
	// crypto/x509 reads the key identifier of the extension and no other
	// field of it.
	if len(crl.AuthorityKeyId) == 0 {
		return newError(ErrCRL, -1, "CRL without an authority key identifier", nil)
	}
	if crl.NextUpdate.IsZero() {
		return newError(ErrCRL, -1, "CRL without a next update", nil)
	}
	if !crl.NextUpdate.After(crl.ThisUpdate) {
		return newError(ErrCRL, -1, "CRL whose next update is not after its this update", nil)
	}
	if why := v.unfresh("CRL", crl.ThisUpdate, crl.NextUpdate, now); why != "" {
		return newError(ErrCRL, -1, why, nil)
	}
	issuer := v.crlIssuer(crl)
	if issuer == nil {
		return newError(ErrCRL, -1, "CRL not signed by a known CA", nil)
	}
	// The signature holds: the checks of every entry and extension, whose
	// work grows with their number, are made of a CRL of a known CA only.
	if err := checkListEncoding(crl.RawTBSRevocationList); err != nil {
		return err
	}
	if err := checkComplete(crl); err != nil {
		return err
	}
	revoked := make(map[string]struct{}, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		if !validSerial(e.SerialNumber) {
			return newError(ErrCRL, -1, "an entry's serial number is not positive or longer than 20 octets", nil)
		}
		revoked[serialKey(e.SerialNumber)] = struct{}{}
	}
	key := issuerKey(issuer)
	held := &heldCRL{
		tbs:        bytes.Clone(crl.RawTBSRevocationList),
		number:     crl.Number,
		thisUpdate: crl.ThisUpdate,
		nextUpdate: crl.NextUpdate,
		revoked:    revoked,
	}
	v.mu.Lock()
	crls := *v.crls.Load()
	if old := crls[key]; old != nil {
		switch held.number.Cmp(old.number) {
		case -1:
			v.mu.Unlock()
			return newError(ErrCRL, -1, "CRL number lower than the one held", nil)
		case 0:
			v.mu.Unlock()
			if bytes.Equal(old.tbs, crl.RawTBSRevocationList) {
				return nil
			}
			return newError(ErrCRL, -1, "another CRL with the number held", nil)
		}
	}
	crls = maps.Clone(crls)
	crls[key] = held
	v.crls.Store(&crls)
	v.mu.Unlock()
	if v.cache != nil {
		v.cache.clear()
	}
	return nil
}

// crlIssuer returns the CA of v, a root or an intermediate, that signed
// crl: of the CRL's issuer name and of the subject key identifier that
// its authority key identifier holds, whose key verifies its signature;
// or nil.
func (v *Verifier) crlIssuer(crl *x509.RevocationList) *x509.Certificate {
	for _, ca := range v.cas {
		// NewVerifier took only CAs with a subject key identifier.
		if bytes.Equal(crl.RawIssuer, ca.RawSubject) && bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId) &&
			crl.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// unfresh returns why a CRL that a refusal calls what, of this update
// thisUpdate and next update nextUpdate, is not fresh at now, allowing for
// the skew, or "": "what not yet valid: its this update T is later than
// NOW plus the clock skew of S" for one whose this update is later than
// now plus the skew, "stale what: its next update T is earlier than NOW
// less the clock skew of S" for one whose next update is earlier than now
// less the skew, the times in UTC as RFC 3339 with the nanoseconds they
// have. AddCRL and checkRevocation refuse a CRL with it.
func (v *Verifier) unfresh(what string, thisUpdate, nextUpdate, now time.Time) string {
	switch {
	case thisUpdate.After(now.Add(v.skew)):
		return what + " not yet valid: its this update " + thisUpdate.UTC().Format(time.RFC3339Nano) +
			" is later than " + now.UTC().Format(time.RFC3339Nano) +
			" plus the clock skew of " + v.skew.String()
	case now.After(nextUpdate.Add(v.skew)):
		return "stale " + what + ": its next update " + nextUpdate.UTC().Format(time.RFC3339Nano) +
			" is earlier than " + now.UTC().Format(time.RFC3339Nano) +
			" less the clock skew of " + v.skew.String()
	}
	return ""
}

// checkRevocation applies the policy to every certificate of ch below the
// root, lowers res.expiry to the next update of every CRL it relies on and
// raises res.validFrom to the this update (less the skew) of each, so that
// the cache serves the result only while those CRLs are fresh. A
// certificate listed in a CRL held, fresh, stale or not yet valid, is
// ErrRevoked (the card's listing looked up first, then each CA's up the
// chain), whatever the policy, before any CRL missing, stale (its next
// update earlier than now less the skew) or not yet valid (its this update
// later than now plus the skew, as after a clock set back) is ErrCRL, the
// reason of one stale or not yet valid naming that update, now and the
// skew: the first is what a CA published, the second only what the
// verifier lacks.
func (v *Verifier) checkRevocation(ch []*x509.Certificate, now time.Time, res *result) error {
	crls := *v.crls.Load()
	if v.crlsRead != nil {
		v.crlsRead()
	}
	held := make([]*heldCRL, len(ch)-1) // held[i]: the CRL of ch[i]'s issuer
	for i := range held {
		held[i] = crls[issuerKey(ch[i+1])]
		if serial := serialKey(ch[i].SerialNumber); held[i].lists(serial) {
			return newError(ErrRevoked, i, "serial "+serial+" is listed", nil)
		}
	}
	for i, crl := range held {
		required := v.policy == RevocationChain || (v.policy == RevocationLeaf && i == 0)
		if crl == nil {
			if required {
				return newError(ErrCRL, i, "no CRL of the issuer", nil)
			}
			continue
		}
		if why := v.unfresh("CRL of the issuer", crl.thisUpdate, crl.nextUpdate, now); why != "" {
			if required {
				return newError(ErrCRL, i, why, nil)
			}
			continue
		}
		if crl.nextUpdate.Before(res.expiry) {
			res.expiry = crl.nextUpdate
		}
		if from := crl.thisUpdate.Add(-v.skew); from.After(res.validFrom) {
			res.validFrom = from
		}
	}
	return nil
}

// CertIDs names the certificates of a chain as the CRLs list them: each
// by its serial number and a CA that may have issued it (its subject and
// key), as OCSP's CertID does (RFC 6960 §4.1.1). Verifier.CertIDs makes
// one from a chain, once, and Verifier.Revoked looks it up in the CRLs
// held, as often as needed. It also keeps the end of the chain's validity
// (NotAfter), to compare times with. It never changes and is safe for
// concurrent use.
type CertIDs struct {
	ids      []certID
	notAfter time.Time
}

// NotAfter returns the earliest NotAfter of the certificates of the chain
// and of the verifier's roots that may have issued one of them, as
// Verifier.CertIDs finds issuers: a path that VerifyCard builds from the
// chain holds some of those certificates and one of those roots, so none
// of its certificates ends before it. Before it, VerifyCard refuses the
// chain for the end of no certificate's validity; from it on, VerifyCard
// decides: a root not presented is checked at the time moved into the
// validity of the certificates presented, so that it is refused from its
// NotAfter on, without the skew, only when every certificate presented
// ends after it (a root renewed with an earlier end than the CA it
// issued, say), and otherwise with the skew, as the certificates
// presented are (a CA of this package issues none that ends after it);
// a second root of the same name and key may still give a path. A nil
// ids returns the zero Time.
func (ids *CertIDs) NotAfter() time.Time {
	if ids == nil {
		return time.Time{}
	}
	return ids.notAfter
}

type certID struct {
	issuer string // issuerKey of a CA that may have issued it
	serial string // serialKey
}

// CertIDs reads a chain as VerifyCard takes it (DER, the card certificate
// first, then its intermediates) and names its certificates for Revoked:
// each certificate presented, with each CA that may have issued it, among
// the certificates presented and the verifier's roots and intermediates:
// every one of them, but the certificate itself, whose subject is the
// certificate's issuer name, whose subject key identifier is the
// certificate's authority key identifier and whose key verifies the
// certificate's signature: the parents through which VerifyCard may find
// a path revoked (its chain builder tries a parent whose subject key
// identifier is not the certificate's authority key identifier too, and
// VerifyCard refuses that path as ErrUsage before it looks at a CRL, so
// that CertIDs names no certificate under such a parent; the roots among
// such parents still bound NotAfter). It checks nothing else
// (validity, constraints, trust): a chain that VerifyCard refuses may
// have CertIDs, and a certificate none of whose issuers the verifier
// knows is named by none. The names are of every certificate presented,
// on the path VerifyCard takes or not, so that Revoked may find listed a
// chain that VerifyCard accepts (see Revoked). It costs a signature check
// for each certificate and CA of its issuer's name: names are made once
// per chain, Revoked is the call to repeat. Of those issuers, the roots
// bound CertIDs.NotAfter with the certificates presented. It returns an
// *Error matching ErrUntrusted for a chain that is empty, longer than
// MaxDepth or holds a certificate that does not parse or is longer than
// MaxCertificateSize (refused before it is parsed), as VerifyCard does,
// and one matching ErrInvalid for a nil or zero Verifier.
func (v *Verifier) CertIDs(chain [][]byte) (*CertIDs, error) {
	if !v.made() {
		return nil, errNoVerifier()
	}
	if err := v.checkBounds(chain); err != nil {
		return nil, err
	}
	certs, err := parseChain(chain)
	if err != nil {
		return nil, err
	}
	ids := new(CertIDs)
	end := func(c *x509.Certificate) {
		if ids.notAfter.IsZero() || c.NotAfter.Before(ids.notAfter) {
			ids.notAfter = c.NotAfter
		}
	}
	issuers := slices.Concat(certs, v.cas) // the roots first in v.cas
	for _, c := range certs {
		end(c)
		serial := serialKey(c.SerialNumber)
		for i, ca := range issuers {
			if !bytes.Equal(ca.RawSubject, c.RawIssuer) || bytes.Equal(ca.Raw, c.Raw) ||
				c.CheckSignatureFrom(ca) != nil {
				continue
			}
			// VerifyCard refuses a path through an issuer that c does not
			// name by key identifier (ErrUsage) before it looks at a CRL.
			if id := (certID{issuerKey(ca), serial}); identifiedBy(c, ca) && !slices.Contains(ids.ids, id) {
				ids.ids = append(ids.ids, id)
			}
			if i >= len(certs) && i < len(certs)+v.nroots {
				end(ca)
			}
		}
	}
	return ids, nil
}

// Revoked reports whether a certificate that ids names is listed in the
// CRL held of its issuer, fresh, stale or not yet valid, with the CRLs
// held at the call. It is true whenever VerifyCard, with the same CRLs,
// finds the chain ErrRevoked (PROTOCOL.md §4.5), and may be true for a
// chain that VerifyCard accepts: ids names every certificate presented,
// and the one listed may be off the path VerifyCard takes (a card CA
// revoked as superseded and issued again under the same name and key, the
// card presenting both, say). It is a filter: VerifyCard decides for a
// chain it finds revoked, and refuses none it does not find as
// ErrRevoked. It decides nothing else (a CRL missing, stale or not yet
// valid, for one, is not revoked) and costs a map lookup or two for each
// name, without a lock or an allocation: AddCRL replaces the set of CRLs
// held rather than changing it. A nil ids names no certificate, and a nil
// or zero Verifier holds no CRL: false.
func (v *Verifier) Revoked(ids *CertIDs) bool {
	if ids == nil || !v.made() {
		return false
	}
	crls := *v.crls.Load()
	for _, id := range ids.ids {
		if crls[id.issuer].lists(id.serial) {
			return true
		}
	}
	return false
}
