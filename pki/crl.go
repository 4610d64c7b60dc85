package pki

import (
	"crypto/x509"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"
)

// CRL reason codes of RFC 5280 §5.3.1 used by the profile.
const (
	ReasonUnspecified          = 0 // no reason code extension
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
)

// Revocation is one entry of a CRL.
type Revocation struct {
	// Serial is the serial number of the certificate revoked: positive
	// and at most 20 octets (RFC 5280 §4.1.2.2).
	Serial *big.Int
	// Time is when the certificate was revoked, in the years 0 to 9999
	// that a CRL can carry; zero means the time of the CRL.
	Time time.Time
	// Reason is an RFC 5280 §5.3.1 reason code, normally one of the
	// Reason… constants; removeFromCRL (8), which only delta CRLs carry,
	// is refused.
	Reason int
}

// IssueCRL signs a CRL of ca listing revoked, numbered number (the CRL
// number extension; it must increase with every CRL of this CA), valid from
// now to nextUpdate, both to the second, and returns it in DER. nextUpdate
// must fall in a later second than now. A platform that keeps the list of
// revoked certificates and the last number in its database calls this;
// Revoke and CRL keep both in memory instead, and LoadCA restores them. A
// number of zero, a next update not after now, a serial number that is not
// positive or is longer than 20 octets, a revocation time, next update or
// this update (the CA's clock) outside the years 0 to 9999 that a CRL can
// carry, a reason RFC 5280 does not define or removeFromCRL, or a CRL
// longer than MaxCRLSize, which no Verifier reads, is an error matching
// ErrInvalid. A serial listed twice is written once, with
// its first entry, as Revoke keeps it.
func (ca *CA) IssueCRL(revoked []Revocation, number uint64, nextUpdate time.Time) ([]byte, error) {
	if !ca.made() {
		return nil, errNoCA()
	}
	now := ca.now().Truncate(time.Second)
	if number == 0 {
		return nil, newError(ErrInvalid, -1, "CRL numbers start at 1", nil)
	}
	if !encodable(now) {
		return nil, newError(ErrInvalid, -1, "this update, the CA's clock, outside the years 0 to 9999 that a CRL can carry", nil)
	}
	nextUpdate = nextUpdate.Truncate(time.Second) // as encoded
	if !nextUpdate.After(now) {
		return nil, newError(ErrInvalid, -1, "next update must be in the future", nil)
	}
	if !encodable(nextUpdate) {
		return nil, newError(ErrInvalid, -1, "next update after the year 9999 that a CRL can carry", nil)
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	listed := make(map[string]bool, len(revoked))
	for _, r := range revoked {
		if err := checkRevocation(r); err != nil {
			return nil, err
		}
		serial := string(r.Serial.Bytes())
		if listed[serial] {
			continue
		}
		listed[serial] = true
		at := r.Time
		if at.IsZero() {
			at = now
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: at.UTC(),
			ReasonCode:     r.Reason,
		})
	}
	tmpl := &x509.RevocationList{
		SignatureAlgorithm:        x509.ECDSAWithSHA256,
		RevokedCertificateEntries: entries,
		Number:                    new(big.Int).SetUint64(number),
		ThisUpdate:                now,
		NextUpdate:                nextUpdate,
	}
	der, err := x509.CreateRevocationList(ca.rand, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CRL: %w", err)
	}
	if len(der) > MaxCRLSize {
		return nil, newError(ErrInvalid, -1, fmt.Sprintf("CRL of %d octets, longer than the %d that a Verifier reads", len(der), MaxCRLSize), nil)
	}
	return der, nil
}

// maxIntegerBits is the longest positive INTEGER, in bits, that RFC 5280
// allows as a serial number (§4.1.2.2) or a CRL number (§5.2.3): 20
// octets as encoded, the first bit of which is 0 for a positive number.
const maxIntegerBits = 20*8 - 1

// validSerial reports whether n is a serial number that RFC 5280 §4.1.2.2
// allows and a CRL may list: positive, and at most 20 octets.
func validSerial(n *big.Int) bool {
	return n != nil && n.Sign() > 0 && n.BitLen() <= maxIntegerBits
}

// checkRevocation refuses (ErrInvalid) a revocation that no CRL of the
// profile can carry: a serial number that validSerial refuses, a time
// that encodable refuses, or a reason that checkReason refuses.
func checkRevocation(r Revocation) error {
	if !validSerial(r.Serial) {
		return newError(ErrInvalid, -1, "revoked serial numbers must be positive and at most 20 octets", nil)
	}
	if !encodable(r.Time) {
		return newError(ErrInvalid, -1, "revocation time outside the years 0 to 9999 that a CRL can carry", nil)
	}
	return checkReason(r.Reason)
}

// encodable reports whether a CRL or a certificate can carry t: a UTCTime
// or GeneralizedTime (RFC 5280 §5.1.2.4, §4.1.2.5) holds a year from 0 to
// 9999, in UTC.
func encodable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// definedReason reports whether RFC 5280 §5.3.1 defines the reason code
// reason: 0 to 10, 7 unused.
func definedReason(reason int) bool {
	return reason >= 0 && reason <= 10 && reason != 7
}

// checkReason refuses a revocation reason that RFC 5280 §5.3.1 does not
// define, and removeFromCRL (8), which only delta CRLs carry: the profile
// has none, and a full CRL lists only what is revoked.
func checkReason(reason int) error {
	if !definedReason(reason) {
		return newError(ErrInvalid, -1, fmt.Sprintf("CRL reason %d is not an RFC 5280 reason", reason), nil)
	}
	if reason == reasonRemoveFromCRL {
		return newError(ErrInvalid, -1, "CRL reason 8 (removeFromCRL) belongs to delta CRLs", nil)
	}
	return nil
}

const reasonRemoveFromCRL = 8

// Revoke adds the certificate with the given serial number to the list of
// revoked certificates that ca keeps in memory for CRL. Revoking a serial
// twice keeps the first entry. Store the list (Revoked) and the CRL number
// (LastCRLNumber) with the CA to restore both through LoadCA. A serial
// number that is not positive or is longer than 20 octets (RFC 5280
// §4.1.2.2), or a reason RFC 5280 does not define, or removeFromCRL, is an
// error matching ErrInvalid.
func (ca *CA) Revoke(serial *big.Int, reason int) error {
	if !ca.made() {
		return errNoCA()
	}
	return ca.revoke(Revocation{Serial: serial, Time: ca.now(), Reason: reason})
}

// revoke adds r to the list, as Revoke and LoadCA do.
func (ca *CA) revoke(r Revocation) error {
	// Checked here, not only when a CRL is issued: an entry that no CRL
	// can carry would stop every later CRL of the CA.
	if err := checkRevocation(r); err != nil {
		return err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	// A set of the serials listed, not a scan of the list: LoadCA
	// restores a list of any length, one entry at a time.
	key := serialKey(r.Serial)
	if _, ok := ca.listed[key]; ok {
		return nil
	}
	if ca.listed == nil {
		ca.listed = make(map[string]struct{})
	}
	ca.listed[key] = struct{}{}
	r.Serial = new(big.Int).Set(r.Serial)
	ca.revoked = append(ca.revoked, r)
	return nil
}

// Revoked returns a copy of the list that Revoke builds.
func (ca *CA) Revoked() []Revocation {
	if !ca.made() {
		return nil
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	out := slices.Clone(ca.revoked)
	for i := range out {
		out[i].Serial = new(big.Int).Set(out[i].Serial)
	}
	return out
}

// LastCRLNumber returns the number of the last CRL that CRL issued, zero
// before the first.
func (ca *CA) LastCRLNumber() uint64 {
	if !ca.made() {
		return 0
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.crlNumber
}

// CRL issues the next CRL of ca from the list that Revoke builds, numbered
// one above the previous call's. After a CRL numbered 2^64−1 (the greatest
// LastCRLNumber holds) it issues none: ErrInvalid.
func (ca *CA) CRL(nextUpdate time.Time) ([]byte, error) {
	if !ca.made() {
		return nil, errNoCA()
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.crlNumber == math.MaxUint64 {
		return nil, newError(ErrInvalid, -1, fmt.Sprintf("CRL numbers used up: the last CRL was numbered %d", ca.crlNumber), nil)
	}
	der, err := ca.IssueCRL(ca.revoked, ca.crlNumber+1, nextUpdate)
	if err != nil {
		return nil, err
	}
	ca.crlNumber++
	return der, nil
}
