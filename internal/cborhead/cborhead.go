// Package cborhead writes the head of a CBOR data item (RFC 8949 §3): the
// initial byte and the argument, in its shortest form, which is what
// deterministic encoding requires. The card's COSE envelope and the check
// that a record has that one encoding both build heads with it.
package cborhead

// CBOR major types used with Append.
const (
	Bytes = 2 // byte string
	Text  = 3 // text string
)

// Append appends the shortest head of major type major (0 to 7) and
// argument n (0 to 2^32-1) to dst.
func Append(dst []byte, major byte, n int) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n < 1<<8:
		return append(dst, m|24, byte(n))
	case n < 1<<16:
		return append(dst, m|25, byte(n>>8), byte(n))
	default:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
