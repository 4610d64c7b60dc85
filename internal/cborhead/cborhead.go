// Package cborhead writes the head of a CBOR data item (RFC 8949 §3): the
// initial byte and the argument, in its shortest form, which is what
// deterministic encoding requires. The card's COSE envelope and the check
// that a record has that one encoding both build heads with it.
package cborhead

// CBOR major types used with Append.
const (
	Bytes = 2 // byte string
	Text  = 3 // text string
	Array = 4 // array
)

// Append appends the shortest head of major type major (0 to 7) and
// argument n to dst: the argument in the initial byte below 24, else in 1,
// 2, 4 or 8 octets. It panics when n is negative or major is above 7,
// which no length or CBOR type is.
func Append(dst []byte, major byte, n int) []byte {
	if n < 0 {
		panic("cborhead: negative argument")
	}
	if major > 7 {
		panic("cborhead: major type above 7")
	}
	m := major << 5
	u := uint64(n)
	switch {
	case u < 24:
		return append(dst, m|byte(u))
	case u < 1<<8:
		return append(dst, m|24, byte(u))
	case u < 1<<16:
		return append(dst, m|25, byte(u>>8), byte(u))
	case u < 1<<32:
		return append(dst, m|26, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	default:
		return append(dst, m|27, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}
