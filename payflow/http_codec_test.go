package payflow

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIDWire: an ID crosses the wire as a byte string of exactly 16
// octets; anything else is refused, never cut or padded.
func TestIDWire(t *testing.T) {
	id := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	enc, err := wireEnc.Marshal(&CaptureRequest{RequestID: id})
	require.NoError(t, err)
	var got CaptureRequest
	require.NoError(t, wireDecode(enc, &got))
	assert.Equal(t, id, got.RequestID)
	require.NoError(t, wireDecodeReply(enc, &got))
	assert.Equal(t, id, got.RequestID)

	for name, item := range map[string][]byte{
		"17 octets":   append([]byte{0x51}, append(bytes.Clone(id[:]), 0xff)...),
		"15 octets":   append([]byte{0x4f}, id[:15]...),
		"no octets":   {0x40},
		"null":        {0xf6},
		"text string": append([]byte{0x70}, []byte("0123456789abcdef")...),
		"an integer":  {0x01},
	} {
		body := append([]byte{0xa1, 0x01}, item...) // {1: item}
		var c CaptureRequest
		assert.ErrorIs(t, wireDecode(body, &c), ErrInvalid, name)
		assert.Error(t, wireDecodeReply(body, &c), name)
	}
}
