package payflow

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
			assert.NoError(t, wireDecodeReply(body(ok.item), v), "%T %x", v, ok.item)
			assert.True(t, ok.want.Equal(b.at(v)), "%T %x", v, ok.item)
		}
	}
}

// nestedTimed holds times at every depth a body may put them: in a
// nested struct, behind pointers, in slices, arrays and map values.
type nestedTimed struct {
	Inner   timedItem            `cbor:"1,keyasint"`
	Ptr     *timedItem           `cbor:"2,keyasint"`
	List    []timedItem          `cbor:"3,keyasint"`
	ByKey   map[int]timedItem    `cbor:"4,keyasint"`
	Times   []time.Time          `cbor:"5,keyasint"`
	TimePtr *time.Time           `cbor:"6,keyasint"`
	ByName  map[string]time.Time `cbor:"7,keyasint"`
	Pair    [2]time.Time         `cbor:"8,keyasint"`
	Deep    [][]*timedItem       `cbor:"9,keyasint"`
	Next    *nestedTimed         `cbor:"10,keyasint"`
	Plain   string               `cbor:"11,keyasint"`
}

type timedItem struct {
	Name string    `cbor:"1,keyasint"`
	At   time.Time `cbor:"2,keyasint"`
}

// TestWireNestedTimes: the rule of TestWireTimes holds for a time
// anywhere in a body, not only in its top-level fields.
func TestWireNestedTimes(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	// Each place puts an item where a time goes, and reads the time back.
	places := []struct {
		name string
		body func(item []byte) []byte
		at   func(v *nestedTimed) time.Time
	}{
		{"nested struct", func(x []byte) []byte { return cat([]byte{0xa1, 1, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Inner.At }},
		{"pointer to struct", func(x []byte) []byte { return cat([]byte{0xa1, 2, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Ptr.At }},
		{"slice of structs", func(x []byte) []byte { return cat([]byte{0xa1, 3, 0x82, 0xa0, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.List[1].At }},
		{"map of structs", func(x []byte) []byte { return cat([]byte{0xa1, 4, 0xa1, 7, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.ByKey[7].At }},
		{"slice of times", func(x []byte) []byte { return cat([]byte{0xa1, 5, 0x82, 0x00}, x) }, func(v *nestedTimed) time.Time { return v.Times[1] }},
		{"pointer to time", func(x []byte) []byte { return cat([]byte{0xa1, 6}, x) }, func(v *nestedTimed) time.Time { return *v.TimePtr }},
		{"map of times", func(x []byte) []byte { return cat([]byte{0xa1, 7, 0xa1, 0x61, 'a'}, x) }, func(v *nestedTimed) time.Time { return v.ByName["a"] }},
		{"array of times", func(x []byte) []byte { return cat([]byte{0xa1, 8, 0x82, 0x00}, x) }, func(v *nestedTimed) time.Time { return v.Pair[1] }},
		{"slice of slices of pointers", func(x []byte) []byte { return cat([]byte{0xa1, 9, 0x81, 0x81, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Deep[0][0].At }},
		{"the same type nested", func(x []byte) []byte { return cat([]byte{0xa1, 10, 0xa1, 10, 0xa1, 1, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Next.Next.Inner.At }},
	}
	bad := map[string][]byte{
		"text":      append([]byte{0x74}, "2027-01-15T08:00:00Z"...),
		"float":     {0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00}, // 1.8e9
		"undefined": {0xf7},
	}
	for _, p := range places {
		for name, item := range bad {
			assert.ErrorIs(t, wireDecode(p.body(item), new(nestedTimed)), ErrInvalid, "%s %s", p.name, name)
			assert.Error(t, wireDecodeReply(p.body(item), new(nestedTimed)), "%s %s", p.name, name)
		}
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			var v nestedTimed
			require.NoError(t, decode(p.body([]byte{0x1a, 0x6b, 0x49, 0xd2, 0x00}), &v), p.name)
			assert.True(t, at.Equal(p.at(&v)), p.name)
		}
	}
	// A body of every field round-trips.
	in := nestedTimed{
		Inner: timedItem{"a", at}, Ptr: &timedItem{"b", at}, List: []timedItem{{"c", at}},
		ByKey: map[int]timedItem{1: {"d", at}}, Times: []time.Time{at}, TimePtr: &at,
		ByName: map[string]time.Time{"e": at}, Pair: [2]time.Time{at, at},
		Deep: [][]*timedItem{{{"f", at}}}, Next: &nestedTimed{Plain: "g"}, Plain: "h",
	}
	enc, err := wireEnc.Marshal(&in)
	require.NoError(t, err)
	var out nestedTimed
	require.NoError(t, wireDecode(enc, &out))
	again, err := wireEnc.Marshal(&out)
	require.NoError(t, err)
	assert.Equal(t, enc, again)
}

func cat(a, b []byte) []byte { return append(bytes.Clone(a), b...) }

type selfEmbedding struct {
	*selfEmbedding
	At time.Time `cbor:"1,keyasint"`
}

type withEmbedded struct {
	timedItem
	Extra int `cbor:"3,keyasint"`
}

// TestWireEmbeddedTimes: the times of embedded structs are checked, and
// a struct that embeds itself is decoded.
func TestWireEmbeddedTimes(t *testing.T) {
	text := append([]byte{0x74}, "2027-01-15T08:00:00Z"...)
	assert.ErrorIs(t, wireDecode(cat([]byte{0xa1, 1}, text), new(selfEmbedding)), ErrInvalid)
	assert.ErrorIs(t, wireDecode(cat([]byte{0xa1, 2}, text), new(withEmbedded)), ErrInvalid)
	var s selfEmbedding
	require.NoError(t, wireDecode([]byte{0xa1, 1, 0x20}, &s))
	assert.Equal(t, int64(-1), s.At.Unix())
	assert.Nil(t, s.selfEmbedding)
	var w withEmbedded
	require.NoError(t, wireDecode([]byte{0xa2, 2, 0x20, 3, 5}, &w))
	assert.Equal(t, int64(-1), w.At.Unix())
	assert.Equal(t, 5, w.Extra)
}

// The decoders fill the fields of embedded structs by the keys they go
// under, as encoding/json does: of the fields under one key, the least
// deeply embedded one, or the one of a tag among those, and none when
// that leaves two.
type (
	keyedTime struct {
		At time.Time `cbor:"1,keyasint"`
	}
	keyedTimeEmbedded struct{ keyedTime }
	keyedText         struct {
		Text string `cbor:"1,keyasint"`
	}
	// textOverEmbeddedTime: key 1 is Text, embedded less deeply than
	// keyedTime's At.
	textOverEmbeddedTime struct {
		keyedTimeEmbedded
		keyedText
	}
	// ownTextOverTime: key 1 is its own Text, not keyedTime's At.
	ownTextOverTime struct {
		Text string `cbor:"1,keyasint"`
		keyedTime
	}
	// embeddedWithOptions embeds keyedTime under a tag without a name,
	// so its At is its own.
	embeddedWithOptions struct {
		keyedTime `cbor:",omitempty"`
	}
	// twoFieldsUnderOneKey: two untagged fields named At at one level, so
	// neither is decoded.
	untaggedTime         struct{ At time.Time }
	untaggedText         struct{ At string }
	twoFieldsUnderOneKey struct {
		untaggedTime
		untaggedText
	}
)

// TestWireTimesOfEmbeddedFieldsByKey: the time check looks at the field
// that the decoders fill under each key, so a body is refused for a time
// of the wrong type exactly where a time is decoded.
func TestWireTimesOfEmbeddedFieldsByKey(t *testing.T) {
	text := []byte{0xa1, 1, 0x64, 't', 'e', 'x', 't'}
	var a textOverEmbeddedTime
	assert.NoError(t, wireDecode(text, &a))
	assert.Equal(t, "text", a.Text)
	var b ownTextOverTime
	assert.NoError(t, wireDecode(text, &b))
	assert.Equal(t, "text", b.Text)
	assert.NoError(t, wireDecodeReply([]byte{0xa1, 0x62, 'A', 't', 0x64, 't', 'e', 'x', 't'}, new(twoFieldsUnderOneKey)),
		"a key of no field is ignored by the reply decoder")

	rfc3339 := append([]byte{0xa1, 1, 0x74}, "2027-01-15T08:00:00Z"...)
	assert.ErrorIs(t, wireDecode(rfc3339, new(embeddedWithOptions)), ErrInvalid)
	var c embeddedWithOptions
	require.NoError(t, wireDecode([]byte{0xa1, 1, 0x20}, &c))
	assert.Equal(t, int64(-1), c.At.Unix())
}

// TestWireTimesCheckAllocatesNothing: the check of a reply's times, the
// second pass of its decoding, allocates nothing: it keeps no record of
// the body's keys (wireDecCheck), and its types hold no data.
func TestWireTimesCheckAllocatesNothing(t *testing.T) {
	for i, body := range wireReplySeeds() {
		fresh := wireReplyTypes[i]
		require.NoError(t, wireDecodeReply(body, fresh())) // builds the check
		decoded := testing.AllocsPerRun(100, func() { _ = wireDecResp.Unmarshal(body, fresh()) })
		checked := testing.AllocsPerRun(100, func() { _ = wireDecodeReply(body, fresh()) })
		assert.Equal(t, decoded, checked, "%T", fresh())
	}
}
