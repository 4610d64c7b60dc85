// Package ascii holds the checks of ASCII text that the packages of this
// module share, so that each rule is written once: the card IDs of the
// signed records (pki/record), the PIN and PUK of package simcard, the
// amounts of package ledger, the versions of migration files
// (internal/sqlmigrate) and the names of temporary files
// (internal/tempfile) are all checked for decimal digits with Digits, or
// read as a number while checked with Uint.
package ascii

// Digits reports whether every byte of s is an ASCII decimal digit, '0' to
// '9'. The empty s has no other byte, so it is all digits: callers check the
// length first.
func Digits[T ~string | ~[]byte](s T) bool {
	_, ok := Uint(0, s, 0)
	return ok
}

// Uint reads the decimal digits of s after those of v, in one pass: it
// returns v*10^len(s) plus the number s writes, or max+1 when that exceeds
// max (or v already does), and false when a byte of s is not an ASCII
// decimal digit, '0' to '9'. max must be below math.MaxUint64.
func Uint[T ~string | ~[]byte](v uint64, s T, max uint64) (uint64, bool) {
	if v > max {
		v = max + 1
	}
	for i := 0; i < len(s); i++ {
		d := uint64(s[i]) - '0'
		if d > 9 {
			return 0, false
		}
		switch {
		case v > max:
		case v > max/10 || max-v*10 < d:
			v = max + 1
		default:
			v = v*10 + d
		}
	}
	return v, true
}
