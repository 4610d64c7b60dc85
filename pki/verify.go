package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// RevocationPolicy says which certificates of a chain need a fresh CRL of
// their issuer.
type RevocationPolicy int

// The revocation policies. The zero value is the strictest.
const (
	// RevocationChain requires a fresh CRL for every certificate below the
	// root: a CRL missing, stale or not yet valid is ErrCRL.
	RevocationChain RevocationPolicy = iota
	// RevocationLeaf requires a fresh CRL for the card or platform
	// certificate only; the CRLs held for the CAs above it are applied.
	RevocationLeaf
	// RevocationBestEffort applies the CRLs held, fresh, stale or not yet
	// valid, and accepts a certificate whose issuer's CRL is missing, stale
	// or not yet valid. It is meant for phones checking the platform
	// certificate offline.
	RevocationBestEffort
)

// VerifierOptions configures a Verifier. Its zero value holds the defaults,
// except Roots, which is required.
type VerifierOptions struct {
	// Roots are the trusted root certificates, in DER, each self-signed
	// (its issuer name its subject, its signature verified by its own
	// key: a CA below a root is no root). None may carry a
	// nameConstraints extension (see NewVerifier).
	Roots [][]byte
	// Intermediates are the CA certificates below the roots (in DER), in
	// any order, whose CRLs AddCRL accepts, normally the card-issuing CAs;
	// none self-signed (a root is no intermediate).
	// None may carry a nameConstraints, policyMappings, policyConstraints
	// or inhibitAnyPolicy extension (see NewVerifier).
	// Chains presented to VerifyCard carry their intermediates themselves.
	Intermediates [][]byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is the clock difference tolerated on certificate validity and CRL
	// update times. Zero: DefaultSkew. Negative: none. Any positive
	// Duration, up to math.MaxInt64, is the difference tolerated as it is.
	Skew time.Duration
	// MaxDepth is the longest chain accepted, root included. Zero:
	// DefaultMaxDepth. Below 2 or above MaxChainDepth (negative, say) is
	// out of range.
	MaxDepth int
	// Algorithms is the allow-list of signature algorithms of certificates
	// below the root and of CRLs. Zero: ECDSA with SHA-256 and SHA-384. It
	// may hold only ECDSA with SHA-256, SHA-384 or SHA-512, the algorithms
	// of the profile's CA keys (ECDSA) that crypto/x509 verifies
	// certificates with (it verifies none signed with SHA-1): NewVerifier
	// refuses any other.
	Algorithms []x509.SignatureAlgorithm
	// Revocation selects which certificates need a fresh CRL. Zero:
	// RevocationChain (every one below the root).
	Revocation RevocationPolicy
	// CacheSize bounds the cache of verified chains and of chains refused
	// as revoked or expired, together. The refusals are at most a quarter
	// of it (rounded down: none below 4): a refusal beyond that evicts the
	// least recently used refusal, so that refused chains never take more
	// than a quarter of the room from verified ones. Zero: 4096 chains
	// (1024 refusals at most). Negative: no cache.
	CacheSize int
}

// profileAlgorithms are the signature algorithms that VerifierOptions's
// Algorithms may hold: those of ECDSA, the profile's CA key, that
// crypto/x509 verifies certificates with. It verifies CRLs signed with
// SHA-1 but no certificate, so that an allow-list naming SHA-1 would
// admit CRLs and no certificate.
var profileAlgorithms = []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512}

// Verifier verifies certificate chains of cards and of the platform against
// trusted roots and CRLs. It is safe for concurrent use; AddCRL may run
// while chains are verified. NewVerifier makes one: a nil *Verifier, or
// the zero Verifier, refuses every call with ErrInvalid (Revoked: false,
// no CRL being held).
type Verifier struct {
	roots      *x509.CertPool
	cas        []*x509.Certificate // CRL issuers: roots and intermediates
	nroots     int                 // the roots, first in cas
	now        func() time.Time
	skew       time.Duration
	maxDepth   int
	algorithms []x509.SignatureAlgorithm
	policy     RevocationPolicy
	cache      *cache

	mu   sync.Mutex                          // held by AddCRL over its change of crls
	crls atomic.Pointer[map[string]*heldCRL] // by issuerKey of the CRL's issuer; replaced, never changed

	// crlsRead, when set (tests set it), runs in checkRevocation once it
	// has read the CRLs that it checks a chain against: a CRL accepted
	// there is accepted while the chain is checked.
	crlsRead func()
}

// NewVerifier returns a Verifier for opts. It returns an error matching
// ErrUntrusted when a root or intermediate is malformed or names itself as
// its issuer, by name and authority key identifier, as a root does, while
// its own key does not verify its signature (a root altered after it was
// signed, as LoadCA refuses one), or (an intermediate) carries a
// nameConstraints, policyMappings, policyConstraints or inhibitAnyPolicy
// extension, critical or not (the profile's CAs carry none; crypto/x509
// applies them to the chains VerifyCard verifies, and NewVerifier does not),
// or does not chain to a root, ErrUsage when one is not a CA of the profile
// (a critical basicConstraints of CA:TRUE, a critical keyUsage with
// keyCertSign and cRLSign, and a subject key identifier, not empty: a CA
// without cRLSign signs no CRL that AddCRL takes, so that no certificate it
// issued could be checked for revocation, and one without a subject key
// identifier no certificate that names it by key identifier) or its key is
// not ECDSA P-256 or P-384 (so that no CRL that such a CA signs is taken), or
// a root is not self-signed (its issuer name not its subject, or its
// signature not verified by its own key: a CA below a root, whose own
// revocation the chains through it would escape), or an intermediate is
// self-signed (a root, whether a root of opts or not), or its serial number
// is not positive or is longer than 20 octets, it has not the CRL
// distribution points that a card has, or its signature algorithm is not in
// Algorithms (VerifyCard refuses it below a root), or a root carries a
// nameConstraints extension, critical or not (crypto/x509 applies a root's
// name constraints, which every card's URI fails, and none of its policy
// extensions), or a root or an intermediate carries a critical extension that
// crypto/x509 does not handle (no chain verifies to or through it; the error
// names the extension) or a notBefore or notAfter not encoded as RFC 5280
// §4.1.2.5 has it (in UTC with seconds, a UTCTime through 2049, a
// GeneralizedTime from 2050 on or before 1950) or an extension whose critical
// is written out as FALSE, the default that DER leaves out, or other bytes
// after its extensions, after an extension's value, after its notAfter in its
// validity or in its subjectPublicKeyInfo, an ECDSA key whose subjectPublicKey
// has unused bits, an ECDSA signature algorithm with parameters, an issuer or
// subject with an empty RelativeDistinguishedName, one whose attributes are
// out of the order DER has them in or an attribute with bytes after its
// value, an issuerUniqueID or subjectUniqueID, or a basicConstraints,
// keyUsage, extKeyUsage, key identifier or certificatePolicies value not in
// DER (bytes after it, a field after those of a basicConstraints, an
// authorityKeyIdentifier or a PolicyInformation, no PolicyInformation, a
// keyUsage with trailing zero bits, which crypto/x509 reads all the same;
// VerifyCard refuses such a certificate presented), or an intermediate chains
// to a root only along paths on which the authority key identifier of a
// certificate is not the subject key identifier of the one before it
// (VerifyCard refuses such a path), and ErrInvalid when there is no root or
// an option is out of range, such as an algorithm of Algorithms other than
// ECDSA with SHA-256, SHA-384 or SHA-512. The error names the root or
// intermediate refused by its position in Roots or Intermediates, from 0 (of
// intermediates that do not chain to a root, the first). Every intermediate
// is parsed and checked as a CA before any is chained. An intermediate chains
// to a root when a path of certificates leads to it from a root through other
// intermediates, in whatever order they are given: each signed by the key of
// the one before it, whose subject is its issuer name (every one a CA of the
// profile, checked first, and whose subject key identifier is its authority
// key identifier), and within the path lengths of the CAs above it (the
// intermediate itself not counted, as crypto/x509 counts a chain's last
// certificate). Their validity periods are not compared, with each other or
// with the time: a CA may start before its root (a root renewed under the
// same name and key, a CA made on a clock behind), and VerifyCard checks the
// validity of every chain it verifies.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	v := &Verifier{
		roots:      x509.NewCertPool(),
		now:        opts.Now,
		skew:       opts.Skew,
		maxDepth:   opts.MaxDepth,
		algorithms: slices.Clone(opts.Algorithms),
		policy:     opts.Revocation,
	}
	crls := make(map[string]*heldCRL)
	v.crls.Store(&crls)
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.skew == 0:
		v.skew = DefaultSkew
	case v.skew < 0:
		v.skew = 0
	}
	if v.maxDepth == 0 {
		v.maxDepth = DefaultMaxDepth
	}
	if v.maxDepth < 2 || v.maxDepth > MaxChainDepth {
		return nil, newError(ErrInvalid, -1, fmt.Sprintf("MaxDepth must be from 2 to %d", MaxChainDepth), nil)
	}
	if len(v.algorithms) == 0 {
		v.algorithms = []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384}
	}
	for _, alg := range v.algorithms {
		if !slices.Contains(profileAlgorithms, alg) {
			return nil, newError(ErrInvalid, -1, "signature algorithm "+alg.String()+" cannot verify certificates of the profile", nil)
		}
	}
	if v.policy < RevocationChain || v.policy > RevocationBestEffort {
		return nil, newError(ErrInvalid, -1, fmt.Sprintf("unknown revocation policy %d", v.policy), nil)
	}
	switch {
	case opts.CacheSize == 0:
		v.cache = newCache(4096)
	case opts.CacheSize > 0:
		v.cache = newCache(opts.CacheSize)
	}
	if len(opts.Roots) == 0 {
		return nil, newError(ErrInvalid, -1, "no trusted root", nil)
	}
	// Certificates are parsed from copies: crypto/x509 keeps the bytes it
	// parses, and a caller may reuse its buffers. Every refusal names the
	// certificate by its position.
	for i, der := range opts.Roots {
		what := fmt.Sprintf("root %d", i)
		c, root, err := parseCA(what, bytes.Clone(der))
		if err != nil {
			return nil, err
		}
		// A root by its signature, as LoadCA and the intermediates tell
		// one: a CA below a root is checked below it, its own CRL
		// required.
		if !root {
			return nil, newError(ErrUsage, -1, what+" is not self-signed: not a root", nil)
		}
		if !caKey(c.PublicKey) {
			return nil, newError(ErrUsage, -1, what+" key is not ECDSA P-256 or P-384", nil)
		}
		if x, ok := carried(c, nameConstraints); ok {
			return nil, newError(ErrUsage, -1, what+" with extension "+x, nil)
		}
		v.roots.AddCert(c)
		v.cas = append(v.cas, c)
	}
	v.nroots = len(v.cas)
	for i, der := range opts.Intermediates {
		what := fmt.Sprintf("intermediate %d", i)
		c, err := parseBelowRoot(what, bytes.Clone(der), "not an intermediate")
		if err != nil {
			return nil, err
		}
		// What the check of a path refuses below the root, whatever the
		// path.
		if why := belowRootCA(c); why != "" {
			return nil, newError(ErrUsage, -1, what+" "+why, nil)
		}
		if !v.allowed(c.SignatureAlgorithm) {
			return nil, newError(ErrUsage, -1, what+" signature algorithm "+c.SignatureAlgorithm.String()+" not allowed", nil)
		}
		if x, ok := carried(c, unchainedExtensions...); ok {
			return nil, newError(ErrUntrusted, -1, what+" with extension "+x, nil)
		}
		v.cas = append(v.cas, c)
	}
	roots, inters := v.cas[:v.nroots], v.cas[v.nroots:]
	if i := unchained(roots, inters, true); i >= 0 {
		// Without key identifiers, a path leads to every one that has one
		// with them, and may lead to others.
		if j := unchained(roots, inters, false); j >= 0 {
			return nil, newError(ErrUntrusted, -1, fmt.Sprintf("intermediate %d does not chain to a root", j), nil)
		}
		return nil, newError(ErrUsage, -1, fmt.Sprintf("intermediate %d chains to a root only through an issuer whose subject key identifier is not its authority key identifier", i), nil)
	}
	return v, nil
}

// unchainedExtensions are the extensions that NewVerifier refuses on an
// intermediate, critical or not: crypto/x509 applies them when it verifies
// a chain, and unchained does not, so that a CA below an intermediate with
// one of them might have its CRLs taken while VerifyCard accepts none of
// its cards. The profile's CAs carry none of them.
var unchainedExtensions = []extension{
	nameConstraints,
	{asn1.ObjectIdentifier{2, 5, 29, 33}, "policyMappings"},
	{asn1.ObjectIdentifier{2, 5, 29, 36}, "policyConstraints"},
	{asn1.ObjectIdentifier{2, 5, 29, 54}, "inhibitAnyPolicy"},
}

// nameConstraints is the one of unchainedExtensions that NewVerifier
// refuses on a root too: crypto/x509 applies a root's name constraints to
// the chains it verifies (a card's URI, which has no host, fails them), and
// none of the policy extensions of a root.
var nameConstraints = extension{asn1.ObjectIdentifier{2, 5, 29, 30}, "nameConstraints"}

// extension names a certificate extension.
type extension struct {
	id   asn1.ObjectIdentifier
	name string
}

// carried returns the name and OID of the first of exts that c carries,
// critical or not, as "name (OID)", and whether c carries one.
func carried(c *x509.Certificate, exts ...extension) (string, bool) {
	for _, e := range c.Extensions {
		for _, x := range exts {
			if e.Id.Equal(x.id) {
				return x.name + " (" + x.id.String() + ")", true
			}
		}
	}
	return "", false
}

// unchained returns the position in inters of the first that chains to
// none of roots, or -1 when every one does, along a path as NewVerifier
// says, through others of inters, in any order and whatever their
// validity periods; path lengths are counted as crypto/x509 counts them
// (the last certificate not counted). With keyIDs, each certificate of
// the path but the root names the one above it by key identifier
// (identifiedBy); without, as crypto/x509 builds paths, whatever the key
// identifiers say. NewVerifier took no root nor intermediate with a
// critical extension that crypto/x509 does not handle (no path goes
// through one).
func unchained(roots, inters []*x509.Certificate, keyIDs bool) int {
	const none = math.MinInt
	// room[i] is pathRoom for the best path found to inters[i], none while
	// none is; parents[i] are the others of inters that sign inters[i].
	room := make([]int, len(inters))
	parents := make([][]int, len(inters))
	for i, c := range inters {
		room[i] = none
		for _, r := range roots {
			if signs(r, c, keyIDs) {
				room[i] = max(room[i], pathRoom(pathRoom(unlimitedPath, r), c))
			}
		}
		for j, p := range inters {
			if j != i && signs(p, c, keyIDs) {
				parents[i] = append(parents[i], j)
			}
		}
	}
	// Each round only raises rooms, each at most to its certificate's
	// own path length or unlimited, so that the rounds end.
	for changed := true; changed; {
		changed = false
		for i, c := range inters {
			for _, j := range parents[i] {
				if room[j] >= 0 {
					if n := pathRoom(room[j], c); n > room[i] {
						room[i], changed = n, true
					}
				}
			}
		}
	}
	return slices.Index(room, none)
}

// VerifiedCard is the result of a successful VerifyCard: it exists only
// when every check passed. The caller must not modify it.
type VerifiedCard struct {
	// CardID is the card's ICCID, from its URI subject alternative name.
	CardID string
	// PublicKey is the card's ECDSA P-256 key: it verifies the card's
	// records.
	PublicKey *ecdsa.PublicKey
	// NotAfter is the end of the card certificate's validity.
	NotAfter time.Time
	// Chain is the verified chain, card first, root last. It, its
	// certificates and PublicKey are those that the verifier's cache keeps
	// and serves to later calls for the same chain: they must not be
	// modified.
	Chain []*x509.Certificate
}

// VerifiedPlatform is the result of a successful VerifyPlatform.
type VerifiedPlatform struct {
	// Name is the common name of the platform certificate, the one
	// attribute of its subject, never empty.
	Name string
	// PublicKey is the platform's ECDSA P-256 receipt key.
	PublicKey *ecdsa.PublicKey
	// NotAfter is the end of the platform certificate's validity.
	NotAfter time.Time
	// Chain is the verified chain, platform first, root last. Like
	// VerifiedCard's, it and PublicKey are shared with the verifier's
	// cache and must not be modified.
	Chain []*x509.Certificate
}

type role byte

const (
	roleCard     role = 1
	rolePlatform role = 2
)

func (r role) eku() (want, other x509.OID) {
	if r == roleCard {
		return OIDCardAuth, OIDReceiptSigning
	}
	return OIDReceiptSigning, OIDCardAuth
}

// result is a verified chain as the cache keeps it, or a refusal of a
// chain as revoked or expired (err).
type result struct {
	err      error  // the refusal, nil for a verified chain
	id       string // card ID or platform name
	pub      *ecdsa.PublicKey
	notAfter time.Time
	chain    []*x509.Certificate
	// validFrom is the latest NotBefore (of the path and the certificates
	// presented) or CRL ThisUpdate, minus skew, or the NotBefore of a root
	// not presented that starts after every certificate presented; of a
	// refusal, see refusalSpan.
	validFrom time.Time
	// expiry is the earliest NotAfter of the path or CRL NextUpdate, or
	// NotAfter plus skew plus 1ns of a certificate presented; of a refusal,
	// see refusalSpan: zero when it has no end.
	expiry time.Time
}

// within reports whether res may be served at now: from its validFrom on
// and before its expiry, if it has one.
func (res *result) within(now time.Time) bool {
	return !now.Before(res.validFrom) && (res.expiry.IsZero() || now.Before(res.expiry))
}

// VerifyCard verifies the chain of a card: chain[0] is the card certificate
// (DER) and the rest are its intermediates, nearest first. On success it
// returns the card's ID and key. Otherwise it returns an *Error matching
// ErrUntrusted, ErrExpired, ErrRevoked, ErrUsage, ErrCardID or ErrCRL: that
// of the first check failed, in the order of PROTOCOL.md §4.5 (the checks
// of the certificates as presented, then of the path built, expiry before
// revocation, ErrRevoked before ErrCRL). A chain refused as revoked or
// expired (ErrRevoked, ErrExpired) is refused again from the cache, with
// the same error (the same *Error, shared by every caller it is served
// to: read it, never modify it), as long as the CRLs held are the same and
// the time is on the same side of every validity bound of the chain's
// certificates and the roots and every update time of the CRLs: a refusal
// that time could undo is never served, and a clock set back across such a
// time has the chain verified again. A chain longer than MaxDepth, or one
// that holds a certificate longer than MaxCertificateSize, is refused
// (ErrUntrusted) before any certificate is parsed and before the chain is
// hashed and looked up in the cache. A nil or zero Verifier refuses every
// chain with ErrInvalid.
func (v *Verifier) VerifyCard(chain [][]byte) (*VerifiedCard, error) {
	r, err := v.verify(chain, roleCard)
	if err != nil {
		return nil, err
	}
	return &VerifiedCard{CardID: r.id, PublicKey: r.pub, NotAfter: r.notAfter, Chain: r.chain}, nil
}

// VerifyPlatform verifies the chain of the platform's receipt key, as
// VerifyCard does for a card but requiring the extended key usage
// OIDReceiptSigning instead of a card identity, and a subject of one
// common name, not empty, with no subject alternative name (ErrUsage
// otherwise). Phones call it offline, normally with
// RevocationBestEffort. A nil or zero Verifier refuses every chain with
// ErrInvalid.
func (v *Verifier) VerifyPlatform(chain [][]byte) (*VerifiedPlatform, error) {
	r, err := v.verify(chain, rolePlatform)
	if err != nil {
		return nil, err
	}
	return &VerifiedPlatform{Name: r.id, PublicKey: r.pub, NotAfter: r.notAfter, Chain: r.chain}, nil
}

// chainKey is the cache key of a chain: SHA-256 over the role and each
// certificate preceded by its length, so that no two different chains (one
// certificate split in two, say) share a key. It hashes a chain that
// checkBounds took: at most MaxChainDepth certificates of at most
// MaxCertificateSize octets.
func chainKey(r role, chain [][]byte) [32]byte {
	h := sha256.New()
	var n [5]byte
	n[0] = byte(r)
	h.Write(n[:1])
	for _, c := range chain {
		n[1], n[2], n[3], n[4] = byte(len(c)>>24), byte(len(c)>>16), byte(len(c)>>8), byte(len(c))
		h.Write(n[1:])
		h.Write(c)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// errNoVerifier is the refusal of every call of a nil or zero Verifier.
func errNoVerifier() error {
	return newError(ErrInvalid, -1, "no Verifier (one is made by NewVerifier)", nil)
}

// made reports whether v was made by NewVerifier, which sets its clock
// and its CRLs held: not nil, and not the zero Verifier.
func (v *Verifier) made() bool { return v != nil && v.now != nil }

func (v *Verifier) verify(chain [][]byte, r role) (*result, error) {
	if !v.made() {
		return nil, errNoVerifier()
	}
	now := v.now()
	if err := v.checkBounds(chain); err != nil {
		return nil, err
	}
	var key [32]byte
	if v.cache != nil {
		key = chainKey(r, chain)
		if res := v.cache.get(key, now, v.crls.Load()); res != nil {
			if res.err != nil {
				return nil, res.err
			}
			return res, nil
		}
	}
	// The CRLs held before the chain is checked: a result is cached, and
	// served, only while they are the CRLs held (the check itself may see
	// later ones, and its result is then never served).
	crls := v.crls.Load()
	certs, err := parseChain(chain)
	if err != nil {
		return nil, err
	}
	res, err := v.checkChain(certs, r, now)
	if v.cache != nil {
		switch {
		case err == nil:
			v.withinPresented(res, certs)
			v.cache.put(key, res, now, crls, &v.crls)
		case errors.Is(err, ErrRevoked) || errors.Is(err, ErrExpired):
			from, until := v.refusalSpan(certs, *crls, now)
			v.cache.put(key, &result{err: err, validFrom: from, expiry: until}, now, crls, &v.crls)
		}
	}
	return res, err
}

// checkChain checks the chain presented as certs at now, in the order of
// PROTOCOL.md §4.5, the cheap checks of the certificates presented before
// any signature is checked, and returns the result of the first path that
// passes every check, or the refusal of the first path.
func (v *Verifier) checkChain(certs []*x509.Certificate, r role, now time.Time) (*result, error) {
	for i, c := range certs {
		what := "" // the card or platform certificate's
		if i > 0 {
			if why := caProfile(c); why != "" {
				return nil, newError(ErrUsage, i, "intermediate "+why, nil)
			}
			what = "intermediate with "
		}
		// crypto/x509 verifies no chain with such a certificate: the
		// card's it refuses, and an intermediate's it takes as no issuer.
		if why := unhandled(c); why != "" {
			return nil, newError(ErrUsage, i, what+why, nil)
		}
	}
	for i, c := range certs {
		if why := certificateEncoding(c); why != "" {
			return nil, newError(ErrUsage, i, why, nil)
		}
	}
	// Before x509.Verify, which would refuse a certificate signed with an
	// algorithm it does not verify (SHA-1) as of no valid path. A root
	// presented, or a copy of one (the same name and key), is not
	// checked: no path holds it below the root.
	for i, c := range certs {
		if !v.allowed(c.SignatureAlgorithm) && !v.isRoot(c) {
			return nil, newError(ErrUsage, i, "signature algorithm "+c.SignatureAlgorithm.String()+" not allowed", nil)
		}
	}
	// Validity with skew, and the time x509.Verify is asked about: now,
	// moved into the presented certificates' common validity when the skew
	// allowed it to lie just outside.
	at := now
	for i, c := range certs {
		if now.Before(c.NotBefore.Add(-v.skew)) {
			return nil, newError(ErrExpired, i, "not yet valid", nil)
		}
		if now.After(c.NotAfter.Add(v.skew)) {
			return nil, newError(ErrExpired, i, "expired", nil)
		}
	}
	for _, c := range certs {
		if at.Before(c.NotBefore) {
			at = c.NotBefore
		}
	}
	for _, c := range certs {
		if at.After(c.NotAfter) {
			at = c.NotAfter
		}
	}
	pool := x509.NewCertPool()
	for _, c := range certs[1:] {
		pool.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: pool,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, mapX509(err, certs)
	}
	var first error
	for _, ch := range chains {
		res, err := v.check(ch, r, now)
		if err == nil {
			return res, nil
		}
		if first == nil {
			first = atPresented(err, ch, certs)
		}
	}
	return nil, first
}

// isRoot reports whether c is one of the trusted roots or a copy of one:
// the same name and key (a root issued again in other bytes), which no
// path holds below a root either.
func (v *Verifier) isRoot(c *x509.Certificate) bool {
	return slices.ContainsFunc(v.cas[:v.nroots], func(r *x509.Certificate) bool {
		return bytes.Equal(r.RawSubject, c.RawSubject) && bytes.Equal(r.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo)
	})
}

// withinPresented narrows the span within which the cache serves res, a
// chain accepted, to the validity with the skew of every certificate
// presented (certs), the path built holding only some of them: within it
// none fails the check of the certificates presented. That check refuses
// when now.Before(NotBefore - skew), false from NotBefore - skew on, and
// when now.After(NotAfter + skew), true from NotAfter + skew + 1ns: the
// first is res.validFrom's bound (served from it on), the second
// res.expiry's (served before it). It also narrows res.validFrom to the
// NotBefore, without the skew, of the path's root when that root was not
// presented and starts after every certificate presented: x509.Verify
// checks the root at now moved to no earlier than the latest NotBefore
// presented, without the skew, and refuses before the root's NotBefore.
func (v *Verifier) withinPresented(res *result, certs []*x509.Certificate) {
	var latest time.Time // the latest NotBefore presented
	for _, c := range certs {
		if c.NotBefore.After(latest) {
			latest = c.NotBefore
		}
		if from := c.NotBefore.Add(-v.skew); from.After(res.validFrom) {
			res.validFrom = from
		}
		if until := c.NotAfter.Add(v.skew).Add(time.Nanosecond); until.Before(res.expiry) {
			res.expiry = until
		}
	}
	if nb := res.chain[len(res.chain)-1].NotBefore; nb.After(latest) && nb.After(res.validFrom) {
		res.validFrom = nb
	}
}

// refusalSpan returns the span [from, until) around now within which a
// verification of the chain presented as certs, under crls, compares
// every time it compares as it does at now: whether now (or the time
// x509.Verify is asked about, now moved into the validity of certs) is
// before or after the validity bounds of certs and of the roots (the
// certificates a path may hold), with and without the skew, and the
// update times of crls. Within it, under the same CRLs, a verification
// has the same inputs and so the same outcome: a chain refused at now is
// refused, with the same error, and none accepted. until is zero when
// every such time is at or before now: the span then has no end, a
// verification at any later time comparing as at now.
func (v *Verifier) refusalSpan(certs []*x509.Certificate, crls map[string]*heldCRL, now time.Time) (from, until time.Time) {
	// now.Before(t) turns false at t, now.After(t) true at t + 1ns.
	bound := func(t time.Time) {
		switch {
		case !now.Before(t):
			if t.After(from) {
				from = t
			}
		case until.IsZero() || t.Before(until):
			until = t
		}
	}
	validity := func(c *x509.Certificate) {
		bound(c.NotBefore.Add(-v.skew))
		bound(c.NotBefore)
		bound(c.NotAfter.Add(v.skew).Add(time.Nanosecond))
		bound(c.NotAfter.Add(time.Nanosecond))
	}
	for _, c := range certs {
		validity(c)
	}
	for _, c := range v.cas[:v.nroots] {
		validity(c)
	}
	for _, crl := range crls {
		bound(crl.thisUpdate.Add(-v.skew))
		bound(crl.nextUpdate.Add(v.skew).Add(time.Nanosecond))
	}
	return from, until
}

// checkBounds refuses, as ErrUntrusted, a chain that is empty, longer
// than the depth limit or that holds a certificate longer than
// MaxCertificateSize (malformed, with its index, as parseChain refuses
// it): the bounds that keep the work of a chain presented, its hashing
// for the cache included, bounded, checked before any of it.
func (v *Verifier) checkBounds(chain [][]byte) error {
	if len(chain) == 0 {
		return newError(ErrUntrusted, -1, "empty chain", nil)
	}
	if len(chain) > v.maxDepth {
		return newError(ErrUntrusted, -1, fmt.Sprintf("chain longer than %d certificates", v.maxDepth), nil)
	}
	for i, der := range chain {
		if err := certificateSize(der); err != nil {
			return newError(ErrUntrusted, i, "malformed certificate", err)
		}
	}
	return nil
}

// parseChain parses every certificate of chain, each from a copy of its
// DER (the cache may keep it); one that does not parse is ErrUntrusted,
// with its index.
func parseChain(chain [][]byte) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := parseCertificate(bytes.Clone(der))
		if err != nil {
			return nil, newError(ErrUntrusted, i, "malformed certificate", err)
		}
		certs[i] = c
	}
	return certs, nil
}

// presentedIndex returns the position of c in certs, the chain presented,
// comparing their DER, or -1 when c (a root, say) was not presented.
func presentedIndex(certs []*x509.Certificate, c *x509.Certificate) int {
	if c == nil {
		return -1
	}
	for i, p := range certs {
		if bytes.Equal(p.Raw, c.Raw) {
			return i
		}
	}
	return -1
}

// atPresented returns err, the refusal of the path ch, with the position
// of the certificate it is about, if any, turned from ch's (root last) into
// that in certs, the chain presented, as Error.Cert says.
func atPresented(err error, ch, certs []*x509.Certificate) error {
	var e *Error
	if errors.As(err, &e) && e.Cert >= 0 && e.Cert < len(ch) {
		e.Cert = presentedIndex(certs, ch[e.Cert])
	}
	return err
}

func mapX509(err error, certs []*x509.Certificate) error {
	index := func(c *x509.Certificate) int { return presentedIndex(certs, c) }
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return newError(ErrUntrusted, index(ua.Cert), "no valid path to a trusted root", err)
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		i := index(ci.Cert)
		switch ci.Reason {
		case x509.Expired:
			// Without crypto/x509's error, whose message names the time of
			// the check: the refusal may be served from the cache later.
			return newError(ErrExpired, i, "outside the validity of the chain", nil)
		case x509.TooManyIntermediates:
			return newError(ErrUntrusted, i, "chain longer than a CA's path length", err)
		case x509.NotAuthorizedToSign, x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage,
			x509.CANotAuthorizedForThisName, x509.NameConstraintsWithoutSANs, x509.UnconstrainedName,
			x509.TooManyConstraints:
			return newError(ErrUsage, i, "certificate not authorized for this chain", err)
		}
		return newError(ErrUntrusted, i, "invalid certificate", err)
	}
	var cv x509.ConstraintViolationError
	if errors.As(err, &cv) {
		return newError(ErrUsage, -1, "constraint violated", err)
	}
	return newError(ErrUntrusted, -1, "chain does not verify", err)
}
