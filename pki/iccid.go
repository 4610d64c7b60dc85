package pki

import (
	"errors"
	"strings"

	"github.com/casimpay/casimpay/pki/record"
)

// CardURIPrefix starts the URI subject alternative name of every card
// certificate: the full name is CardURIPrefix followed by the card's ICCID.
const CardURIPrefix = "urn:casim:card:"

// ValidICCID checks that s is an integrated circuit card identifier as
// ITU-T E.118 defines it and the CA-SIM profile uses it as the card ID: 19
// or 20 decimal digits, starting with the telecommunications major industry
// identifier 89, the last digit being the Luhn check digit of the others.
// The rule is record.CheckCardID's, the one that signed records' card IDs
// follow. It returns nil or an *Error matching ErrCardID.
func ValidICCID(s string) error {
	var fe *record.FieldError // CheckCardID's only error
	if errors.As(record.CheckCardID("ICCID", s), &fe) {
		return newError(ErrCardID, -1, fe.Field+" "+fe.Reason, nil)
	}
	return nil
}

// CompleteICCID appends the Luhn check digit to body, 18 or 19 digits
// starting with 89, and returns the ICCID. It returns an error matching
// ErrCardID when body cannot start a valid ICCID.
func CompleteICCID(body string) (string, error) {
	if n := len(body); n < 18 || n > 19 {
		return "", newError(ErrCardID, -1, "ICCID body must have 18 or 19 digits", nil)
	}
	iccid := body + string(record.LuhnDigit(body))
	if err := ValidICCID(iccid); err != nil {
		return "", err
	}
	return iccid, nil
}

// CardURI returns the URI that names the card with the given ICCID in its
// certificate, or an error matching ErrCardID when iccid is not valid.
func CardURI(iccid string) (string, error) {
	if err := ValidICCID(iccid); err != nil {
		return "", err
	}
	return CardURIPrefix + iccid, nil
}

// ParseCardURI returns the ICCID named by a card URI. The URI must be exactly
// CardURIPrefix (lower case) followed by a valid ICCID; anything else is an
// error matching ErrCardID.
func ParseCardURI(uri string) (string, error) {
	iccid, ok := strings.CutPrefix(uri, CardURIPrefix)
	if !ok {
		return "", newError(ErrCardID, -1, "URI is not a card URI", nil)
	}
	if err := ValidICCID(iccid); err != nil {
		return "", err
	}
	return iccid, nil
}
