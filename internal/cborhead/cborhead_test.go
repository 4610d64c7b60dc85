package cborhead

import (
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
