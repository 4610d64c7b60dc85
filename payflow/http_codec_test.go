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
// TestWireReplyRoundsExpiriesUp: the handler encodes the expiries of a
// session (SessionView key 9), of a payment request (PaymentView key 14)
// and of a hold (key 19) rounded up to the next whole second, so that no
// phone sees one earlier than the platform's; a whole second, or no time,
// is encoded as it is. The expiries of a challenge and of a login stay
// rounded down, and other replies are encoded as they are. The view the
// API returned is left unchanged.
func TestWireReplyRoundsExpiriesUp(t *testing.T) {
	keys := func(v any) map[uint64]any {
		enc, err := wireEnc.Marshal(wireReply(v))
		require.NoError(t, err)
		var m map[uint64]any
		require.NoError(t, wireDecodeReply(enc, &m))
		return m
	}
	for _, tt := range []struct {
		at   time.Time
		want any // the key, nil when absent or null
	}{
		{time.Unix(1_800_000_000, 1), uint64(1_800_000_001)},
		{time.Unix(1_800_000_000, 300_000_000), uint64(1_800_000_001)},
		{time.Unix(1_800_000_000, 999_999_999), uint64(1_800_000_001)},
		{time.Unix(1_800_000_000, 0), uint64(1_800_000_000)},
		{time.Unix(-1, 500_000_000), uint64(0)},
		{time.Unix(-2, 500_000_000), int64(-1)},
		{time.Time{}, nil},
	} {
		v := &PaymentView{State: StateHeld, ExpiresAt: time.Unix(1_700_000_000, 900_000_000), HoldExpiresAt: tt.at}
		before := *v
		m := keys(v)
		assert.Equal(t, tt.want, m[19], "hold %v", tt.at)
		assert.Equal(t, uint64(1_700_000_001), m[14], "the request's expiry is rounded up")
		assert.Equal(t, before, *v, "the API's view is unchanged")

		v = &PaymentView{State: StatePending, ExpiresAt: tt.at}
		before = *v
		assert.Equal(t, tt.want, keys(v)[14], "request %v", tt.at) // a zero time is null
		assert.Equal(t, before, *v, "the API's view is unchanged")

		s := &SessionView{State: SessionWaiting, ExpiresAt: tt.at}
		sBefore := *s
		assert.Equal(t, tt.want, keys(s)[9], "session %v", tt.at)
		assert.Equal(t, sBefore, *s, "the API's view is unchanged")
	}
	whole := &PaymentView{ExpiresAt: time.Unix(1_800_000_000, 0), HoldExpiresAt: time.Unix(1_800_000_100, 0)}
	assert.Same(t, whole, wireReply(whole), "nothing to round: no copy")
	session := &SessionView{ExpiresAt: time.Unix(1_800_000_000, 0)}
	assert.Same(t, session, wireReply(session))

	challenge := &ChallengeResponse{ExpiresAt: time.Unix(1_800_000_000, 500_000_000)}
	assert.Same(t, challenge, wireReply(challenge))
	assert.Equal(t, uint64(1_800_000_000), keys(challenge)[2], "a challenge's expiry is rounded down")
	login := &LoginResponse{ExpiresAt: time.Unix(1_800_000_000, 500_000_000)}
	assert.Same(t, login, wireReply(login))
	assert.Equal(t, uint64(1_800_000_000), keys(login)[5], "a login's expiry is rounded down")
	var none *PaymentView
	assert.Same(t, none, wireReply(none))
	var noSession *SessionView
	assert.Same(t, noSession, wireReply(noSession))
}
