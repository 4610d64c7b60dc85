package pki

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error of this package matches one of them with
// errors.Is; errors about a certificate chain are an *Error carrying detail.
// The exceptions are errors that come from what the caller supplies: a
// failing crypto.Signer or random source, the error of a context that has
// ended, and the errors of a NonceStore or CounterStore other than
// MemoryNonces and MemoryCounters, are returned wrapped as they are;
// VerifyRecord and VerifyReceipt return the sentinels of package record (but
// this package's ErrInvalid for a nil receiver, and of VerifyRecord its
// ErrCardID for a record of another card than the certificate's), and so do
// VerifiedPlatform.VerifySignedReceipt, Verifier.ReceiptPlatform,
// Verifier.DecodeReceipt and Verifier.VerifyReceipt for the receipt itself.
var (
	// ErrInvalid: an argument or option is out of its range: a CRL URL
	// missing, not http or https, without a host or with a character
	// other than printable ASCII, a negative validity or one under a
	// second, an empty name, a name or subject that no certificate can
	// carry (not valid UTF-8), revocations or a CRL number in the options
	// of NewRoot or NewIntermediate, a validity asked of a CA that ends
	// before the CA's certificate starts, a CRL number of zero or, of
	// CA.CRL, after a CRL numbered 2^64−1, a next update not after now, a
	// serial number that is not positive or is longer than 20 octets, a
	// revocation time, CRL this or next update or root CA validity outside
	// the years 0 to 9999, a reason code RFC 5280 does not define or
	// removeFromCRL, a subject, name or CRL URL that makes (a card or
	// platform certificate: can make) a certificate longer than
	// MaxCertificateSize, a CRL longer than MaxCRLSize, data without the
	// PEM block asked for or with a certificate or CRL block asked for
	// that cannot be decoded, a verifier option out of range or no trusted
	// root, an empty nonce, no certificate, a Challenger without a
	// Verifier or with a negative nonce TTL, a store or random source of
	// ChallengerOptions or CAOptions that is a nil pointer, func, map,
	// channel or slice, a nil or zero Verifier, Challenger or CA, a nil
	// VerifiedCard or VerifiedPlatform (none made by this package), a nil
	// context given to a Challenger, MemoryNonces or MemoryCounters, or an
	// empty card ID given to MemoryCounters.
	ErrInvalid = errors.New("pki: invalid argument")
	// ErrUntrusted: the chain does not lead to a trusted root within the
	// depth limit (unknown issuer, bad signature, malformed certificate,
	// one with bytes after its signature, a signature BIT STRING with
	// unused bits or its version written out as v1 included, one longer
	// than MaxCertificateSize, chain too deep or longer than a CA's path
	// length allows). NewVerifier and LoadCA return it too for a CA
	// certificate that is malformed or names itself as its issuer while its
	// own key does not verify it, and NewVerifier for an intermediate that
	// does not chain to a root or that carries a nameConstraints or policy
	// extension.
	ErrUntrusted = errors.New("pki: untrusted certificate chain")
	// ErrExpired: a certificate of the chain is expired or not yet valid,
	// even allowing for the clock skew; or, of NewIntermediate, IssueCard,
	// IssuePlatform and CheckIssueCard, the CA expires before the
	// certificate would start.
	ErrExpired = errors.New("pki: certificate expired or not yet valid")
	// ErrRevoked: a certificate of the chain is listed in its issuer's CRL.
	ErrRevoked = errors.New("pki: certificate revoked")
	// ErrUsage: a certificate is not meant for this use: key usage bits,
	// extended key usage, basic constraints, key type, signature algorithm
	// or serial number (not positive, or longer than 20 octets: no CRL
	// AddCRL takes could list it) outside the profile, a certificate without
	// a subject key identifier, a certificate below the root whose authority
	// key identifier is not its issuer's subject key identifier, a
	// certificate below the root without the CRL distribution points of the
	// profile, a certificate whose notBefore or notAfter is not encoded as
	// RFC 5280 has it (in UTC with seconds, a UTCTime through 2049, a
	// GeneralizedTime from 2050 on or before 1950) or that has an extension
	// whose critical is written out as FALSE, the default that DER leaves
	// out, other bytes after its extensions, after an extension's value,
	// after its notAfter in its validity or in its subjectPublicKeyInfo
	// (after the subjectPublicKey, or after the namedCurve of an ECDSA key),
	// an ECDSA key whose subjectPublicKey has unused bits, an ECDSA
	// signature algorithm with parameters, an issuer or subject with an
	// empty RelativeDistinguishedName, one whose attributes are not in the
	// order DER has them in or an attribute with bytes after its value, an
	// issuerUniqueID or subjectUniqueID, which RFC 5280 has a CA not write,
	// or a basicConstraints, keyUsage, extKeyUsage, key identifier or
	// certificatePolicies value not in DER (bytes after it, a field after
	// those of a basicConstraints, an authorityKeyIdentifier or a
	// PolicyInformation, no PolicyInformation, a keyUsage with trailing zero
	// bits), a certificate with a critical extension that crypto/x509 does
	// not handle (no chain verifies with it: a card or platform certificate
	// with one is refused as an intermediate or a root is), a card or
	// platform certificate with a critical extended key usage or subject
	// alternative name, or a platform certificate whose subject is not one
	// common name, not empty, or that has a subject alternative name.
	ErrUsage = errors.New("pki: certificate not valid for this usage")
	// ErrCardID: a card identity is malformed: not exactly one card URI
	// subject alternative name, an ICCID that is not ITU-T E.118, or a
	// signed record naming another card than its certificate.
	ErrCardID = errors.New("pki: bad card ID")
	// ErrCRL: revocation cannot be decided: the CRL of an issuer is missing,
	// stale or not yet valid (a clock set back after it was added), or a CRL
	// handed to AddCRL is malformed, signed with an algorithm that
	// VerifierOptions.Algorithms does not allow, without a CRL number, an
	// authority key identifier or a next update later than its this update,
	// not signed by a known CA, not fresh, not complete (a delta, scoped or
	// indirect CRL, one with an entry whose reason is removeFromCRL, or one
	// with a critical extension other than an entry's reason code), with an
	// extension twice or an entry that has one twice, with an entry whose
	// reason code RFC 5280 does not define or whose serial number is not
	// positive or is longer than 20 octets, with a CRL number negative or
	// longer than 20 octets, with a time not encoded as RFC 5280 has it (in
	// UTC with seconds, a UTCTime through 2049, a GeneralizedTime from 2050
	// on or before 1950), or older than the one held or of its number with
	// other signed content. A CRL longer than MaxCRLSize, or with other
	// bytes after its extensions, after an extension's value, after the
	// fields of an entry or after its signature, with a signature BIT STRING
	// with unused bits, or with an ECDSA signature algorithm with
	// parameters, is malformed.
	ErrCRL = errors.New("pki: CRL unavailable or invalid")
	// ErrKey: a key handed in (to sign with, to certify or in PEM) is
	// malformed or not of the kind the profile requires (ECDSA P-256 for
	// cards and the platform; ECDSA P-256 or P-384 for CAs), a key to
	// encode is nil, without its private scalar or public point, of a
	// curve other than P-256 and P-384 or cannot be encoded, or a signer
	// does not match its certificate or signs with a key other than the
	// one whose public key it reports. The key of a certificate that a
	// Verifier is given, a root's included, outside the profile is
	// ErrUsage instead.
	ErrKey = errors.New("pki: unsupported or mismatched key")
	// ErrNonce: a challenge nonce is unknown, already used or expired, or
	// (MemoryNonces.Add, and so Challenger.NewNonce) issued again while
	// held.
	ErrNonce = errors.New("pki: unknown, used or expired nonce")
	// ErrCounterRegression: a card's signature counter did not increase
	// over the highest one seen for that card: the record is a replay or the
	// card has been cloned. A *CounterError gives the values.
	ErrCounterRegression = errors.New("pki: card counter did not increase (replay or cloned card)")
)

// Error reports why a certificate, chain, CRL, card ID, key or argument was
// refused. It matches its sentinel Err (and its Cause, if any) with
// errors.Is.
type Error struct {
	// Err is one of the sentinel errors of this package.
	Err error
	// Cert is the position in the chain as presented (0 is the card or
	// platform certificate, then the others in the order given) of the
	// certificate at fault, whatever its place in the path built to a
	// root, or -1 when the error is not about one certificate presented:
	// about none, or about a trusted root that the chain does not hold.
	Cert int
	// Reason says what was wrong, in words.
	Reason string
	// Cause is the underlying error, such as one of crypto/x509, or nil.
	Cause error
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Cert >= 0 {
		s += ": certificate " + strconv.Itoa(e.Cert)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Is reports whether target is the sentinel Err. With Unwrap, errors.Is
// finds the sentinel and the cause's chain, and errors.As the cause's
// chain, without allocating.
func (e *Error) Is(target error) bool { return errors.Is(e.Err, target) }

// Unwrap returns the cause, or nil.
func (e *Error) Unwrap() error { return e.Cause }

func newError(sentinel error, cert int, reason string, cause error) *Error {
	return &Error{Err: sentinel, Cert: cert, Reason: reason, Cause: cause}
}

// CounterError reports a card counter that did not increase. It matches
// ErrCounterRegression.
type CounterError struct {
	CardID string
	// Last is the highest counter accepted so far for the card.
	Last uint64
	// Got is the counter of the refused record.
	Got uint64
}

func (e *CounterError) Error() string {
	return ErrCounterRegression.Error() + ": card " + e.CardID + " counter " +
		strconv.FormatUint(e.Got, 10) + " not above " + strconv.FormatUint(e.Last, 10)
}

// Is reports whether target is ErrCounterRegression.
func (e *CounterError) Is(target error) bool { return target == ErrCounterRegression }
