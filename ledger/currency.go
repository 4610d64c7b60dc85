package ledger

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/casimpay/casimpay/internal/ascii"
)

// Currency is an ISO 4217 currency.
//
// casimpay uses the numeric code as the Ledger of every account and
// transfer in that currency (EUR is ledger 978, JPY 392), so a ledger is
// one currency and amounts are in its minor unit: 10^Exponent minor units
// make one major unit (cents for EUR, yen for JPY, fils for KWD). Ledgers
// above 999 are free for other assets, such as tickets.
type Currency struct {
	Code     string // alphabetic code, e.g. "EUR"
	Numeric  uint32 // numeric code, e.g. 978; the Ledger value
	Exponent uint8  // digits of the minor unit, 0 to 4 in the table
	Name     string // English name
}

// Errors of the currency functions.
var (
	ErrUnknownCurrency = errors.New("ledger: unknown currency")
	ErrBadAmount       = errors.New("ledger: malformed amount")
)

// LookupCurrency returns the currency with alphabetic code code (upper
// case, as ISO 4217 writes it).
func LookupCurrency(code string) (Currency, bool) {
	i := sort.Search(len(currencies), func(i int) bool { return currencies[i].Code >= code })
	if i < len(currencies) && currencies[i].Code == code {
		return currencies[i], true
	}
	return Currency{}, false
}

// CurrencyByLedger returns the currency whose numeric code is ledger.
func CurrencyByLedger(ledger uint32) (Currency, bool) {
	for _, c := range currencies {
		if c.Numeric == ledger {
			return c, true
		}
	}
	return Currency{}, false
}

// Currencies returns every currency of the table, sorted by code.
func Currencies() []Currency { return append([]Currency(nil), currencies[:]...) }

// FormatAmount writes amount, in minor units of currency, as a decimal
// number with exactly the currency's minor-unit digits and no grouping:
// FormatAmount(1250, "EUR") is "12.50", FormatAmount(1250, "JPY") is
// "1250". It fails with ErrUnknownCurrency, or ErrBadAmount when amount
// exceeds AmountLimit. No floating point is involved.
func FormatAmount(amount uint64, currency string) (string, error) {
	c, ok := LookupCurrency(currency)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	return c.formatAmount(amount)
}

// formatAmount is FormatAmount in c, for any Exponent.
func (c Currency) formatAmount(amount uint64) (string, error) {
	if amount > AmountLimit {
		return "", fmt.Errorf("%w: %d exceeds the limit", ErrBadAmount, amount)
	}
	s := itoa(amount)
	e := int(c.Exponent)
	if e == 0 {
		return s, nil
	}
	if len(s) <= e {
		s = strings.Repeat("0", e-len(s)+1) + s
	}
	return s[:len(s)-e] + "." + s[len(s)-e:], nil
}

// ParseAmount reads a decimal amount of currency in major units ("12.5",
// "12.50", "12") and returns it in minor units (1250). It accepts digits
// with at most one '.', followed by no more digits than the currency's
// exponent; no sign, grouping, exponent or spaces. It fails with
// ErrUnknownCurrency, or ErrBadAmount for anything else, including a value
// above AmountLimit.
func ParseAmount(s, currency string) (uint64, error) {
	c, ok := LookupCurrency(currency)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	return c.parseAmount(s)
}

// parseAmount is ParseAmount in c, for any Exponent.
func (c Currency) parseAmount(s string) (uint64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	v, wholeOK := ascii.Uint(0, whole, AmountLimit)
	v, fracOK := ascii.Uint(v, frac, AmountLimit)
	if whole == "" || (dot && frac == "") || len(frac) > int(c.Exponent) || !wholeOK || !fracOK {
		return 0, fmt.Errorf("%w: %q for %s", ErrBadAmount, s, c.Code)
	}
	// The minor-unit digits that frac leaves out are zeros: v is
	// multiplied by ten for each, and refused as soon as it would exceed
	// the limit (past 18 of them, only a v of 0 stays within it).
	for range int(c.Exponent) - len(frac) {
		if v > AmountLimit/10 {
			return 0, fmt.Errorf("%w: %q exceeds the limit", ErrBadAmount, s)
		}
		v *= 10
	}
	if v > AmountLimit {
		return 0, fmt.Errorf("%w: %q exceeds the limit", ErrBadAmount, s)
	}
	return v, nil
}
