// Package ascii holds the checks of ASCII text that the packages of this
// module share, so that each rule is written once: the card IDs of the
// signed records (pki/record), the PIN and PUK of package simcard, the
// amounts of package ledger and the versions of migration files
// (internal/sqlmigrate) are all checked for decimal digits with Digits.
package ascii

// Digits reports whether every byte of s is an ASCII decimal digit, '0' to
// '9'. The empty s has no other byte, so it is all digits: callers check the
// length first.
func Digits[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
