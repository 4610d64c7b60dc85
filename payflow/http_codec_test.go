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

// TestParseID: an ID's text form is the 32 lower-case hexadecimal digits
// that String gives, and only that.
func TestParseID(t *testing.T) {
	id := ID{0xab, 0xcd, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	got, err := ParseID(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, got)
	for _, s := range []string{
		"ABCDEF0102030405060708090a0b0c0d", // upper case: another path for the same ID
		"abcdef0102030405060708090a0b0c0",  // 31 digits
		"abcdef0102030405060708090a0b0c0d0e",
		"abcdef0102030405060708090a0b0c0g",
		"",
	} {
		_, err := ParseID(s)
		assert.ErrorIs(t, err, ErrInvalid, s)
	}
}
