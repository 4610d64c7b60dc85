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
	assert.NoError(t, wireDecodeReply(enc, &got))
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

// BenchmarkWireDecodeReply decodes the largest reply of a purchase, a
// PaymentView with a line, a leg and a receipt, as the client does.
func BenchmarkWireDecodeReply(b *testing.B) {
	seeds := wireReplySeeds()
	body := seeds[5]
	var probe PaymentView
	require.NoError(b, wireDecodeReply(body, &probe))
	require.NotEmpty(b, probe.Lines)
	b.ReportAllocs()
	for b.Loop() {
		var v PaymentView
		if err := wireDecodeReply(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// selfEmbedding embeds a pointer to itself, and withEmbedded a struct
// with a time: the fields of an embedded struct are the body's own.
// TestWireReplyRoundsHoldExpiryUp: the handler encodes a view's hold
// expiry rounded up to the next whole second, so that no phone sees it
// earlier than the platform's; a whole second, or no hold expiry, is
// encoded as it is, and so are the other times (rounded down) and
// replies. The view the API returned is left unchanged.
func TestWireReplyRoundsHoldExpiryUp(t *testing.T) {
	keys := func(v any) map[uint64]any {
		enc, err := wireEnc.Marshal(wireReply(v))
		require.NoError(t, err)
		var m map[uint64]any
		require.NoError(t, wireDecodeReply(enc, &m))
		return m
	}
	for _, tt := range []struct {
		hold time.Time
		want any // key 19, nil when absent
	}{
		{time.Unix(1_800_000_000, 1), uint64(1_800_000_001)},
		{time.Unix(1_800_000_000, 999_999_999), uint64(1_800_000_001)},
		{time.Unix(1_800_000_000, 0), uint64(1_800_000_000)},
		{time.Unix(-1, 500_000_000), uint64(0)},
		{time.Unix(-2, 500_000_000), int64(-1)},
		{time.Time{}, nil},
	} {
		v := &PaymentView{State: StateHeld, ExpiresAt: time.Unix(1_700_000_000, 900_000_000), HoldExpiresAt: tt.hold}
		before := *v
		m := keys(v)
		assert.Equal(t, tt.want, m[19], "%v", tt.hold)
		assert.Equal(t, uint64(1_700_000_000), m[14], "the request's expiry is rounded down")
		assert.Equal(t, before, *v, "the API's view is unchanged")
	}
	at := &ChallengeResponse{ExpiresAt: time.Unix(1_800_000_000, 500_000_000)}
	assert.Same(t, at, wireReply(at))
	assert.Equal(t, uint64(1_800_000_000), keys(at)[2])
	var none *PaymentView
	assert.Same(t, none, wireReply(none))
}
