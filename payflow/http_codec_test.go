package payflow

import (
	"bytes"
	"testing"
	"time"

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

// TestWireTimes: a time crosses the wire as integer Unix seconds, or null
// for the zero time as the encoder writes it; a text (RFC 3339),
// floating-point or undefined time is refused in every body, as a
// malformed one.
func TestWireTimes(t *testing.T) {
	type timedRequest struct { // no request has a time yet
		At time.Time `cbor:"1,keyasint"`
	}
	bodies := []struct {
		key   byte
		fresh func() any
		at    func(v any) time.Time
	}{
		{2, func() any { return new(ChallengeResponse) }, func(v any) time.Time { return v.(*ChallengeResponse).ExpiresAt }},
		{5, func() any { return new(LoginResponse) }, func(v any) time.Time { return v.(*LoginResponse).ExpiresAt }},
		{9, func() any { return new(SessionView) }, func(v any) time.Time { return v.(*SessionView).ExpiresAt }},
		{14, func() any { return new(PaymentView) }, func(v any) time.Time { return v.(*PaymentView).ExpiresAt }},
		{1, func() any { return new(timedRequest) }, func(v any) time.Time { return v.(*timedRequest).At }},
	}
	text := append([]byte{0x74}, "2027-01-15T08:00:00Z"...)
	for _, b := range bodies {
		body := func(item []byte) []byte { return append([]byte{0xa1, b.key}, item...) } // {key: item}
		for name, item := range map[string][]byte{
			"text":        text,
			"float":       {0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00}, // 1.8e9
			"NaN":         {0xf9, 0x7e, 0x00},
			"undefined":   {0xf7},
			"byte string": {0x44, 1, 2, 3, 4},
		} {
			v := b.fresh()
			require.Error(t, wireDecodeReply(body(item), v), "%T %s", v, name)
			if _, ok := v.(*timedRequest); ok {
				assert.ErrorIs(t, wireDecode(body(item), b.fresh()), ErrInvalid, name)
			}
		}
		for _, ok := range []struct {
			item []byte
			want time.Time
		}{
			{[]byte{0x1a, 0x6b, 0x49, 0xd2, 0x00}, time.Unix(1_800_000_000, 0)},
			{[]byte{0x20}, time.Unix(-1, 0)},
			{[]byte{0xf6}, time.Time{}},
		} {
			v := b.fresh()
			require.NoError(t, wireDecodeReply(body(ok.item), v), "%T %x", v, ok.item)
			assert.True(t, ok.want.Equal(b.at(v)), "%T %x", v, ok.item)
		}
	}
}
