package cborhead

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendMatchesCBOR: the head of every length at each boundary of the
// argument's size is the one the CBOR library's deterministic encoding
// writes before the string's content.
func TestAppendMatchesCBOR(t *testing.T) {
	enc, err := cbor.CoreDetEncOptions().EncMode()
	require.NoError(t, err)
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20} {
		b, err := enc.Marshal(make([]byte, n))
		require.NoError(t, err)
		assert.Equal(t, b[:len(b)-n], Append(nil, Bytes, n), "bstr of %d", n)
		s, err := enc.Marshal(strings.Repeat("a", n))
		require.NoError(t, err)
		assert.Equal(t, s[:len(s)-n], Append(nil, Text, n), "tstr of %d", n)
	}
	assert.Equal(t, []byte{0xff, 0x58, 0x18}, Append([]byte{0xff}, Bytes, 24), "appends to dst")
}

// TestAppendLongArguments: an argument of 2^32 or more takes the 8-octet
// form (additional information 27), not its low 32 bits.
func TestAppendLongArguments(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("int cannot hold 2^32")
	}
	n := uint64(1)<<32 - 1
	assert.Equal(t, []byte{0x5a, 0xff, 0xff, 0xff, 0xff}, Append(nil, Bytes, int(n)))
	n++
	assert.Equal(t, []byte{0x5b, 0, 0, 0, 1, 0, 0, 0, 0}, Append(nil, Bytes, int(n)))
	n = 1<<63 - 1
	assert.Equal(t, []byte{0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Append(nil, Text, int(n)))
}

// TestAppendRefusesInvalid: a negative argument or a major type above 7
// has no head; Append panics rather than write a wrong one.
func TestAppendRefusesInvalid(t *testing.T) {
	assert.PanicsWithValue(t, "cborhead: negative argument", func() { Append(nil, Bytes, -1) })
	assert.PanicsWithValue(t, "cborhead: major type above 7", func() { Append(nil, 8, 0) })
}
