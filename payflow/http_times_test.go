package payflow

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
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
		{2, newAny[ChallengeResponse], func(v any) time.Time { return v.(*ChallengeResponse).ExpiresAt }},
		{5, newAny[LoginResponse], func(v any) time.Time { return v.(*LoginResponse).ExpiresAt }},
		{9, newAny[SessionView], func(v any) time.Time { return v.(*SessionView).ExpiresAt }},
		{14, newAny[PaymentView], func(v any) time.Time { return v.(*PaymentView).ExpiresAt }},
		{1, newAny[timedRequest], func(v any) time.Time { return v.(*timedRequest).At }},
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

// TestWireTimesPastGoTime: a time of more seconds than time.Time holds
// from 1970 on (math.MaxInt64 less the 62135596800 seconds from year 1 to
// 1970, past the year 292277024626), which time.Unix would wrap to a time
// before every other, is refused as of the wrong type, naming its field,
// in a reply as in a request; the latest one that time.Time holds is taken,
// after every earlier time, and so is the earliest integer of all.
func TestWireTimesPastGoTime(t *testing.T) {
	type timedRequest struct {
		At time.Time `cbor:"1,keyasint"`
	}
	item := func(major byte, v uint64) []byte { return binary.BigEndian.AppendUint64([]byte{major<<5 | 27}, v) }
	const latest = math.MaxInt64 - 62135596800
	for _, v := range []uint64{latest + 1, math.MaxInt64} {
		body := append([]byte{0xa1, 0x0e}, item(0, v)...) // {14: v}
		err := wireDecodeReply(body, new(PaymentView))
		assert.EqualError(t, err, "cbor: cannot unmarshal positive integer into Go struct field payflow.PaymentView.14 of type time.Time", "%d", v)
		body[1] = 0x01
		err = wireDecode(body, new(timedRequest))
		assert.ErrorIs(t, err, ErrInvalid, "%d", v)
		assert.EqualError(t, err, "payflow: invalid request: body is not a valid timedRequest: field 1 has the wrong type", "%d", v)
	}
	var v PaymentView
	require.NoError(t, wireDecodeReply(append([]byte{0xa1, 0x0e}, item(0, latest)...), &v))
	assert.Equal(t, int64(latest), v.ExpiresAt.Unix())
	assert.True(t, v.ExpiresAt.After(time.Unix(1_800_000_000, 0)))
	require.NoError(t, wireDecodeReply(append([]byte{0xa1, 0x0e}, item(1, math.MaxInt64)...), &v))
	assert.Equal(t, int64(math.MinInt64), v.ExpiresAt.Unix())
	assert.True(t, v.ExpiresAt.Before(time.Unix(-1, 0)))
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
		{"nested struct", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Inner.At }},
		{"pointer to struct", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Ptr.At }},
		{"slice of structs", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 3, 0x82, 0xa0, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.List[1].At }},
		{"map of structs", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 4, 0xa1, 7, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.ByKey[7].At }},
		{"slice of times", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 5, 0x82, 0x00}, x) }, func(v *nestedTimed) time.Time { return v.Times[1] }},
		{"pointer to time", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 6}, x) }, func(v *nestedTimed) time.Time { return *v.TimePtr }},
		{"map of times", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 7, 0xa1, 0x61, 'a'}, x) }, func(v *nestedTimed) time.Time { return v.ByName["a"] }},
		{"array of times", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 8, 0x82, 0x00}, x) }, func(v *nestedTimed) time.Time { return v.Pair[1] }},
		{"slice of slices of pointers", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 9, 0x81, 0x81, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Deep[0][0].At }},
		{"the same type nested", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 10, 0xa1, 10, 0xa1, 1, 0xa1, 2}, x) }, func(v *nestedTimed) time.Time { return v.Next.Next.Inner.At }},
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
	assert.ErrorIs(t, wireDecode(slices.Concat([]byte{0xa1, 1}, text), new(selfEmbedding)), ErrInvalid)
	assert.ErrorIs(t, wireDecode(slices.Concat([]byte{0xa1, 2}, text), new(withEmbedded)), ErrInvalid)
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

// TestWireCheckAllocatesNothing: the check of a reply, the walk over its
// body after its decoding (wirePlan.check), allocates nothing.
func TestWireCheckAllocatesNothing(t *testing.T) {
	for i, body := range wireReplySeeds() {
		fresh := wireReplyTypes[i]
		require.NoError(t, wireDecodeReply(body, fresh())) // builds the check
		decoded := testing.AllocsPerRun(100, func() { _ = wireDecResp.Unmarshal(body, fresh()) })
		checked := testing.AllocsPerRun(100, func() { _ = wireDecodeReply(body, fresh()) })
		assert.Equal(t, decoded, checked, "%T", fresh())
	}
}

// Bodies with times where the decoders take them by other rules than
// those of map-shaped structs: in map keys, in structs decoded from
// arrays (toarray), and in a struct that also decodes from a byte string
// (encoding.BinaryUnmarshaler).
type (
	timeKeyed struct {
		ByTime map[time.Time]int          `cbor:"1,keyasint"`
		ByItem map[keyedItem]string       `cbor:"2,keyasint"`
		ByPair map[[2]time.Time]time.Time `cbor:"3,keyasint"`
	}
	// pointerKeyed has keys with pointers, which the decoders tell apart
	// by the pointers: two of them may encode alike, in either order,
	// so that a value of it has no one encoding (and is not fuzzed).
	pointerKeyed struct {
		ByPtr       map[*time.Time]bool          `cbor:"1,keyasint"`
		ByEmbedding map[pointerEmbeddingKey]bool `cbor:"2,keyasint"`
	}
	// keyedItem is a map key with a time and an integer.
	keyedItem struct {
		N  int       `cbor:"1,keyasint"`
		At time.Time `cbor:"2,keyasint"`
	}
	// pointerEmbeddingKey is a map key with a time and an embedded
	// pointer: the decoders tell apart two keys of it by the pointer.
	pointerEmbeddingKey struct {
		*KeyText
		At time.Time `cbor:"2,keyasint"`
	}
	KeyText struct {
		Text string `cbor:"1,keyasint"`
	}

	// arrayTimed is decoded from an array of its three fields.
	arrayTimed struct {
		_    struct{} `cbor:",toarray"`
		Name string
		At   time.Time
		Next *arrayTimed
	}
	// arrayEmbedding is decoded from an array of timedItem's two fields,
	// then Extra; arrayIndefinite from an array of its one field.
	arrayEmbedding struct {
		_ struct{} `cbor:",toarray"`
		timedItem
		Extra int
	}
	arrayIndefinite struct {
		_  struct{} `cbor:",omitempty,toindefarray"`
		At time.Time
	}
	arrays struct {
		Timed     []arrayTimed   `cbor:"1,keyasint"`
		Embedding arrayEmbedding `cbor:"2,keyasint"`
	}
	indefiniteArrays struct {
		ByName map[string]arrayIndefinite `cbor:"1,keyasint"`
	}

	// binaryTimed decodes from a byte string too: 8 octets of Unix
	// seconds, big-endian.
	binaryTimed struct {
		At time.Time `cbor:"1,keyasint"`
	}
	binaries struct {
		List []binaryTimed `cbor:"1,keyasint"`
	}
	// binaryCount decodes from a byte string too, and has no time.
	binaryCount struct {
		N int `cbor:"1,keyasint"`
	}
	// binaryBytes decodes from a byte string too, and has one.
	binaryBytes struct {
		B []byte `cbor:"1,keyasint"`
	}
)

func (b *binaryTimed) UnmarshalBinary(data []byte) error {
	if len(data) != 8 {
		return errors.New("8 octets")
	}
	b.At = time.Unix(int64(binary.BigEndian.Uint64(data)), 0)
	return nil
}

func (b *binaryBytes) UnmarshalBinary(data []byte) error {
	b.B = data
	return nil
}

func (b *binaryCount) UnmarshalBinary(data []byte) error {
	b.N = len(data)
	return nil
}

// wireBadTimes are items of the wrong type where a time goes.
var wireBadTimes = map[string][]byte{
	"text":      append([]byte{0x74}, "2027-01-15T08:00:00Z"...),
	"float":     {0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00}, // 1.8e9
	"undefined": {0xf7},
}

// wireAt is 1.8e9 as an integer, a time the protocol takes.
var wireAt = []byte{0x1a, 0x6b, 0x49, 0xd2, 0x00}

// wireTimePlace puts an item where a time goes in a body of type T, and
// reads the time back.
type wireTimePlace[T any] struct {
	name string
	body func(item []byte) []byte
	at   func(v *T) time.Time
}

// checkWireTimePlaces checks that, at each place, the decoders refuse a
// body with a time of the wrong type and take one with an integer time.
func checkWireTimePlaces[T any](t *testing.T, places []wireTimePlace[T]) {
	t.Helper()
	at := time.Unix(1_800_000_000, 0)
	for _, p := range places {
		for name, item := range wireBadTimes {
			assert.ErrorIs(t, wireDecode(p.body(item), new(T)), ErrInvalid, "%s %s", p.name, name)
			assert.Error(t, wireDecodeReply(p.body(item), new(T)), "%s %s", p.name, name)
		}
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			v := new(T)
			if assert.NoError(t, decode(p.body(wireAt), v), p.name) {
				assert.True(t, at.Equal(p.at(v)), "%s: %v", p.name, p.at(v))
			}
		}
	}
}

// TestWireTimesInMapKeys: a time in a map key is checked as one in a
// value, behind a pointer too, and keys that the decoders take as
// different are not refused as one key twice: those of another integer
// beside the same time, and pointers.
func TestWireTimesInMapKeys(t *testing.T) {
	key := func(v *timeKeyed) time.Time {
		for k := range v.ByTime {
			return k
		}
		return time.Time{}
	}
	checkWireTimePlaces(t, []wireTimePlace[timeKeyed]{
		{"time", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1}, x, []byte{0x01}) }, key},
		{"struct", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0xa1, 0xa2, 1, 0x00, 2}, x, []byte{0x60}) }, func(v *timeKeyed) time.Time {
			for k := range v.ByItem {
				return k.At
			}
			return time.Time{}
		}},
		{"array", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 3, 0xa1, 0x82, 0x00}, x, []byte{0x00}) }, func(v *timeKeyed) time.Time {
			for k := range v.ByPair {
				return k[1]
			}
			return time.Time{}
		}},
	})
	checkWireTimePlaces(t, []wireTimePlace[pointerKeyed]{
		{"pointer", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1}, x, []byte{0xf5}) }, func(v *pointerKeyed) time.Time {
			for k := range v.ByPtr {
				return *k
			}
			return time.Time{}
		}},
		{"struct with an embedded pointer", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0xa1, 0xa1, 2}, x, []byte{0xf5}) }, func(v *pointerKeyed) time.Time {
			for k := range v.ByEmbedding {
				return k.At
			}
			return time.Time{}
		}},
	})

	// twoKeys decodes body into a fresh value with both decoders and
	// checks that the map that n measures has two keys.
	twoKeys := func(name string, body []byte, fresh func() any, n func(v any) int) {
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			v := fresh()
			require.NoError(t, decode(body, v), name)
			assert.Equal(t, 2, n(v), name)
		}
	}
	keyed := newAny[timeKeyed]
	pointers := newAny[pointerKeyed]
	twoKeys("two times", []byte{0xa1, 1, 0xa2, 0x00, 0x01, 0x01, 0x02}, keyed,
		func(v any) int { return len(v.(*timeKeyed).ByTime) })
	twoKeys("one time, two integers", []byte{0xa1, 2, 0xa2, 0xa2, 1, 0x00, 2, 0x05, 0x60, 0xa2, 1, 0x01, 2, 0x05, 0x60}, keyed,
		func(v any) int { return len(v.(*timeKeyed).ByItem) })
	twoKeys("the zero time and another", []byte{0xa1, 3, 0xa2, 0x82, 0xf6, 0xf6, 0xf6, 0x82, 0xf6, 0x00, 0x00}, keyed,
		func(v any) int { return len(v.(*timeKeyed).ByPair) })
	twoKeys("one time, two pointers", []byte{0xa1, 1, 0xa2, 0x05, 0xf5, 0x05, 0xf4}, pointers,
		func(v any) int { return len(v.(*pointerKeyed).ByPtr) })
	twoKeys("one key, two embedded pointers", []byte{0xa1, 2, 0xa2, 0xa2, 1, 0x61, 'a', 2, 0x05, 0xf5, 0xa2, 1, 0x61, 'a', 2, 0x05, 0xf4}, pointers,
		func(v any) int { return len(v.(*pointerKeyed).ByEmbedding) })
	// A key twice is refused, as the decoders refuse it.
	assert.ErrorIs(t, wireDecode([]byte{0xa1, 1, 0xa2, 0x05, 0x01, 0x05, 0x02}, new(timeKeyed)), ErrInvalid)
	assert.Error(t, wireDecodeReply([]byte{0xa1, 2, 0xa2, 0xa2, 1, 0x00, 2, 0x05, 0x60, 0xa2, 1, 0x00, 2, 0x05, 0x61, 'x'}, new(timeKeyed)))
}

// TestWireTimesInArrays: the times of a struct decoded from an array
// (toarray, toindefarray) are checked at their positions, the fields of
// an embedded struct in its place, and a body that the decoders take is
// not refused.
func TestWireTimesInArrays(t *testing.T) {
	checkWireTimePlaces(t, []wireTimePlace[arrayTimed]{
		{"toarray", func(x []byte) []byte { return slices.Concat([]byte{0x83, 0x61, 'a'}, x, []byte{0xf6}) }, func(v *arrayTimed) time.Time { return v.At }},
		{"toarray in toarray", func(x []byte) []byte {
			return slices.Concat([]byte{0x83, 0x61, 'a', 0x00, 0x83, 0x61, 'b'}, x, []byte{0xf6})
		}, func(v *arrayTimed) time.Time { return v.Next.At }},
	})
	checkWireTimePlaces(t, []wireTimePlace[arrays]{
		{"slice of toarray", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0x81, 0x83, 0x60}, x, []byte{0xf6}) }, func(v *arrays) time.Time { return v.Timed[0].At }},
		{"embedded", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0x83, 0x61, 'n'}, x, []byte{0x07}) }, func(v *arrays) time.Time { return v.Embedding.At }},
	})
	checkWireTimePlaces(t, []wireTimePlace[indefiniteArrays]{
		{"toindefarray", func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1, 0x61, 'k', 0x81}, x) }, func(v *indefiniteArrays) time.Time { return v.ByName["k"].At }},
	})
	var v arrays
	require.NoError(t, wireDecode(slices.Concat([]byte{0xa1, 2, 0x83, 0x61, 'n'}, wireAt, []byte{0x07}), &v))
	assert.Equal(t, arrayEmbedding{timedItem: timedItem{Name: "n", At: time.Unix(1_800_000_000, 0)}, Extra: 7}, v.Embedding)
}

// TestWireBinaryUnmarshalers: a type that also decodes from a byte
// string (encoding.BinaryUnmarshaler) takes a byte string by its own
// decoding, and any other item by the rules of its fields: a text time
// or an array for a byte string in its map is refused, an integer time
// taken.
func TestWireBinaryUnmarshalers(t *testing.T) {
	bytesBody := []byte{0x48, 0, 0, 0, 0, 0x6b, 0x49, 0xd2, 0x00}
	at := time.Unix(1_800_000_000, 0)
	for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
		var b binaryTimed
		require.NoError(t, decode(bytesBody, &b))
		assert.True(t, at.Equal(b.At))
		b = binaryTimed{}
		require.NoError(t, decode(slices.Concat([]byte{0xa1, 1}, wireAt), &b))
		assert.True(t, at.Equal(b.At))
		var l binaries
		require.NoError(t, decode(slices.Concat([]byte{0xa1, 1, 0x81}, bytesBody), &l))
		assert.Len(t, l.List, 1)
		var c binaryCount
		require.NoError(t, decode([]byte{0x43, 1, 2, 3}, &c))
		assert.Equal(t, 3, c.N)
		var bb binaryBytes
		require.NoError(t, decode([]byte{0x42, 1, 2}, &bb))
		assert.Equal(t, []byte{1, 2}, bb.B)
	}
	assert.EqualError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 1, 2}, new(binaryBytes)),
		"cbor: cannot unmarshal array into Go struct field payflow.binaryBytes.1 of type []uint8", "an array for its byte string")
	text := slices.Concat([]byte{0xa1, 1}, wireBadTimes["text"])
	err := wireDecode(text, new(binaryTimed))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: body is not a valid binaryTimed: field 1 has the wrong type")
	assert.EqualError(t, wireDecodeReply(text, new(binaryTimed)),
		"cbor: cannot unmarshal UTF-8 text string into Go struct field payflow.binaryTimed.1 of type time.Time")
	assert.ErrorIs(t, wireDecode([]byte{0xa1, 1, 0xf6}, new(binaryCount)), ErrInvalid, "null for an integer")
}

// TestWireBodiesChecked: the plan of every body type that the handler
// and the client decode (wireBodies, whose plans init builds) is built,
// and those are the body types that the fuzz targets decode.
func TestWireBodiesChecked(t *testing.T) {
	var fuzzed []reflect.Type
	for _, fresh := range append(slices.Clone(wireRequestTypes), wireReplyTypes...) {
		fuzzed = append(fuzzed, reflect.TypeOf(fresh()).Elem())
	}
	assert.ElementsMatch(t, fuzzed, wireBodies)
	for _, b := range wireBodies {
		p, ok := wirePlans.Load(b)
		if assert.True(t, ok, b) {
			assert.Equal(t, wireStructItem, p.(*wirePlan).kind, b)
		}
	}
}
