package payflow

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// newAny returns a new zero T, as a fresh value of the body types below
// and of the tests' tables.
func newAny[T any]() any { return new(T) }

// wireRequestTypes are the request bodies the handler decodes, by the
// kind byte of FuzzWireRequest.
var wireRequestTypes = []func() any{
	newAny[ChallengeRequest],
	newAny[LoginRequest],
	newAny[ResolveRequest],
	newAny[PairRequest],
	newAny[CreateRequest],
	newAny[ApproveRequest],
	newAny[CaptureRequest],
	newAny[RefundRequest],
}

// wireReplyTypes are the reply bodies the client decodes, by the kind
// byte of FuzzWireReply.
var wireReplyTypes = []func() any{
	newAny[ChallengeResponse],
	newAny[LoginResponse],
	newAny[ResolveResponse],
	newAny[SessionView],
	newAny[Catalog],
	newAny[PaymentView],
	newAny[RefundView],
	newAny[Info],
	newAny[errorBody],
}

// wireRequestSeeds returns valid bodies of each request kind.
func wireRequestSeeds() [][]byte {
	id := ID{1, 2, 3}
	vs := []any{
		&ChallengeRequest{CardID: "8944100000000000009"},
		&LoginRequest{Proof: []byte{0xd2, 0x84}},
		&ResolveRequest{EID: bytes.Repeat([]byte{7}, 16)},
		&PairRequest{Proof: []byte{0xd2, 0x84, 0x43}},
		&CreateRequest{Request: []byte{0xd2}},
		&ApproveRequest{Consent: []byte{0xd2, 0x84, 0x00}},
		&CaptureRequest{RequestID: id, Amount: 250},
		&RefundRequest{Refund: []byte{0xd2, 0x01}},
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i], _ = wireEnc.Marshal(v)
	}
	return out
}

func wireReplySeeds() [][]byte {
	at := time.Unix(1_800_000_000, 0)
	vs := []any{
		&ChallengeResponse{Nonce: bytes.Repeat([]byte{9}, 32), ExpiresAt: at},
		&LoginResponse{Token: "tok", CardID: "8944100000000000009", DisplayName: "Ana", MerchantID: "m1", ExpiresAt: at},
		&ResolveResponse{DisplayName: "Grocer", Role: 2, MerchantID: "m1"},
		&SessionView{ID: ID{1}, State: SessionPaired, PairingCode: "123456", ShopperCardID: "8944100000000000009", SellerCardID: "8944100000000000017", MerchantID: "m1", ShopperName: "Ana", MerchantName: "Grocer", ExpiresAt: at},
		&Catalog{MerchantID: "m1", Currency: "EUR", Items: []CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 45}}},
		&PaymentView{ID: ID{2}, SessionID: ID{1}, State: StateCaptured, MerchantID: "m1", MerchantName: "Grocer", PayerCardID: "8944100000000000009", Currency: "EUR", Amount: 90,
			Lines: []Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 45, Amount: 90}}, Legs: []AssetLeg{{Asset: "ticket", Amount: 1}},
			Request: []byte{0xd2}, RequestHash: bytes.Repeat([]byte{1}, 32), ExpiresAt: at, Captured: 90, Receipt: []byte{0xd2, 0x84}},
		&RefundView{ID: ID{3}, RequestID: ID{2}, Amount: 10, Currency: "EUR", Refunded: 10, Receipt: []byte{0xd2}},
		&Info{Chain: [][]byte{{0x30, 0x82}, {0x30, 0x81}}},
		&errorBody{Code: "rate_limited", Message: "too many EID resolutions", RetryAfter: 2},
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i], _ = wireEnc.Marshal(v)
	}
	return out
}

// wireRoundTrip checks that a decoded value encodes to bytes that decode
// to a value with the same encoding.
func wireRoundTrip(t *testing.T, v any, fresh func() any, decode func([]byte, any) error) {
	enc, err := wireEnc.Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	w := fresh()
	if err := decode(enc, w); err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	enc2, err := wireEnc.Marshal(w)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed the encoding: %x != %x (%v)", enc, enc2, err)
	}
}

// wireEncEmpty is wireEnc but for nil slices and maps, which it encodes
// as empty ones rather than null, so that the encoding of a decoded value
// holds a byte string wherever the value holds a []byte, and an array
// wherever it holds another slice.
var wireEncEmpty = func() cbor.EncMode {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeUnix
	eo.TimeTag = cbor.EncTagNone
	eo.NilContainers = cbor.NilContainerAsEmpty
	em, err := eo.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// wireKindsKept checks that body data, which mode decoded into v, has a
// CBOR byte string, or null, wherever the encoding of v (wireEncEmpty)
// has a byte string, that it is not null or undefined as a whole, and no
// undefined under the key of a field of v's type that is a slice of byte
// strings or of times, or a struct, a map, a slice or an array that holds
// no time and no bytes (wirePlain): the CBOR library takes an array of
// small integers or undefined into a []byte or an ID, and null or
// undefined into a struct or a slice, which the protocol refuses
// (wireUnmarshal). The encoding and data are compared as mode decodes
// them into an interface value, item by item under the keys and at the
// indexes that both have; map keys are not compared.
func wireKindsKept(t *testing.T, mode cbor.DecMode, data []byte, v any) {
	t.Helper()
	enc, err := wireEncEmpty.Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	var want any
	if err := mode.Unmarshal(enc, &want); err == nil { // else a map key that an interface value cannot hold (an array)
		wireKindsAt(t, mode, want, data, "body")
	}
	if len(data) == 1 && (data[0] == 0xf6 || data[0] == 0xf7) {
		t.Fatalf("body: %x for a map", data)
	}
	var top map[any]cbor.RawMessage
	if mode.Unmarshal(data, &top) != nil {
		return
	}
	for _, f := range wireFields(reflect.TypeOf(v).Elem()) {
		key, err := strconv.ParseUint(f.key, 10, 64)
		list := f.typ.Kind() == reflect.Slice && (f.typ.Elem() == timeType || f.typ.Elem().Kind() == reflect.Slice && f.typ.Elem().Elem().Kind() == reflect.Uint8)
		container := f.typ.Kind() == reflect.Struct || f.typ.Kind() == reflect.Map || f.typ.Kind() == reflect.Slice || f.typ.Kind() == reflect.Array
		if f.keyAsInt && err == nil && (list || container && wirePlain(f.typ, 0)) && bytes.Equal(top[key], []byte{0xf7}) {
			t.Fatalf("body.%d: undefined in the body where the decoded value has a %v", key, f.typ)
		}
	}
}

// wirePlain reports whether type t holds no time.Time, no slice or array
// of bytes and no type that decodes itself, at depth or deeper (depth
// counted to wireMaxNested, past which nothing is decoded).
func wirePlain(t reflect.Type, depth int) bool {
	if depth > wireMaxNested {
		return true
	}
	if t == timeType || reflect.PointerTo(t).Implements(reflect.TypeFor[cbor.Unmarshaler]()) {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer:
		return wirePlain(t.Elem(), depth)
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() != reflect.Uint8 && wirePlain(t.Elem(), depth+1)
	case reflect.Map:
		return wirePlain(t.Key(), depth+1) && wirePlain(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !wirePlain(t.Field(i).Type, depth+1) {
				return false
			}
		}
	}
	return true
}

// wireKindsAt checks item data, at path at, against want, the decoded
// item of the encoding at the same place (wireKindsKept).
func wireKindsAt(t *testing.T, mode cbor.DecMode, want any, data []byte, at string) {
	t.Helper()
	if len(data) == 0 || data[0] == 0xf6 { // null: no bytes
		return
	}
	switch w := want.(type) {
	case []byte:
		if data[0]>>5 != 2 {
			t.Fatalf("%s: %x in the body where the decoded value has a byte string", at, data)
		}
	case []any:
		var items []cbor.RawMessage
		if mode.Unmarshal(data, &items) != nil {
			return // not an array, or one of an item of no interface value
		}
		for i := range min(len(w), len(items)) {
			wireKindsAt(t, mode, w[i], items[i], at+"."+strconv.Itoa(i))
		}
	case map[any]any:
		var items map[any]cbor.RawMessage
		if mode.Unmarshal(data, &items) != nil {
			return // not a map, or one of a key of no interface value (an array)
		}
		for k, x := range w {
			if item, ok := items[k]; ok {
				wireKindsAt(t, mode, x, item, fmt.Sprintf("%s.%v", at, k))
			}
		}
	}
}

func FuzzWireRequest(f *testing.F) {
	for i, b := range wireRequestSeeds() {
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'})
	f.Add(uint8(6), []byte{0xbf, 0x01, 0x41, 0x00, 0xff})
	f.Add(uint8(6), []byte{0xf7}) // undefined for the body
	f.Add(uint8(0), []byte{0xf6}) // null for the body
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fuzzWireRequest(t, wireRequestTypes, kind, data)
	})
}

// fuzzWireRequest decodes data as a request body of the type of types
// that kind picks: it is refused as malformed (ErrInvalid), or it has the
// kinds of item that the decoded value has (wireKindsKept) and
// round-trips (wireRoundTrip).
func fuzzWireRequest(t *testing.T, types []func() any, kind uint8, data []byte) {
	fresh := types[int(kind)%len(types)]
	v := fresh()
	if err := wireDecode(data, v); err != nil {
		if AsError(err).Code != "invalid" {
			t.Fatalf("decoding error %v is not invalid", err)
		}
		return
	}
	wireKindsKept(t, wireDec, data, v)
	wireRoundTrip(t, v, fresh, wireDecode)
}

func FuzzWireReply(f *testing.F) {
	for i, b := range wireReplySeeds() {
		f.Add(uint8(i), b)
	}
	f.Add(uint8(8), []byte{0xa1, 0x01, 0x63, 'a', 'b', 'c'})
	f.Add(uint8(4), []byte{0xa1, 0x03, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	// Times: text, floating-point and undefined ones are refused, null
	// is the zero time.
	f.Add(uint8(0), append([]byte{0xa1, 0x02, 0x74}, "2027-01-15T08:00:00Z"...))
	f.Add(uint8(5), []byte{0xa1, 0x0e, 0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00})
	f.Add(uint8(5), []byte{0xa1, 0x0e, 0x1b, 0x7f, 0xff, 0xff, 0xf1, 0x88, 0x6e, 0x09, 0x00}) // past what time.Time holds
	f.Add(uint8(3), []byte{0xa1, 0x09, 0xf7})
	f.Add(uint8(1), []byte{0xa1, 0x05, 0xf6})
	// Undefined for the body, for a list of maps and for one of its
	// maps; null for the body.
	f.Add(uint8(5), []byte{0xf7})
	f.Add(uint8(4), []byte{0xf6})
	f.Add(uint8(4), []byte{0xa1, 0x03, 0xf7})
	f.Add(uint8(5), []byte{0xa1, 0x09, 0x82, 0xa0, 0xf7})
	// A text string that is not UTF-8 under a key ignored.
	f.Add(uint8(4), []byte{0xa1, 0x10, 0x81, 0x61, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fresh := wireReplyTypes[int(kind)%len(wireReplyTypes)]
		v := fresh()
		if err := wireDecodeReply(data, v); err != nil {
			return
		}
		// A reply taken holds no text string that is not UTF-8, under a
		// key ignored too: decoded whole, none of it is skipped.
		var whole any
		if err := wireDecResp.Unmarshal(data, &whole); err != nil && err.Error() == "cbor: invalid UTF-8 string" {
			t.Fatalf("reply %x taken with a text string that is not UTF-8", data)
		}
		wireKindsKept(t, wireDecResp, data, v)
		wireRoundTrip(t, v, fresh, wireDecodeReply)
	})
}

// wireCheckedTypes are bodies with times in every place that the time
// check follows (http_times_test.go), and with byte strings in every
// place that the byte string check follows (http_codec_test.go), by the
// kind byte of FuzzWireCheck.
var wireCheckedTypes = []func() any{
	newAny[nestedTimed],
	newAny[timeKeyed],
	newAny[arrays],
	newAny[withEmbedded],
	newAny[nestedBytes],
}

// FuzzWireCheck decodes bodies with times, and byte strings, in nested
// values, map keys, structs decoded from arrays and embedded structs: a
// body is refused as malformed (ErrInvalid) or decodes into a value whose
// encoding decodes again to the same encoding.
func FuzzWireCheck(f *testing.F) {
	at := time.Unix(1_800_000_000, 0)
	for i, v := range []any{
		&nestedTimed{Inner: timedItem{"a", at}, ByKey: map[int]timedItem{1: {"b", at}}, Times: []time.Time{at, {}}, Next: &nestedTimed{TimePtr: &at}},
		&timeKeyed{ByTime: map[time.Time]int{at: 1, {}: 2}, ByItem: map[keyedItem]string{{1, at}: "a", {2, at}: "b"}, ByPair: map[[2]time.Time]time.Time{{at, {}}: at}},
		&arrays{Timed: []arrayTimed{{Name: "a", At: at, Next: &arrayTimed{At: at}}}, Embedding: arrayEmbedding{timedItem: timedItem{"b", at}, Extra: 3}},
		&withEmbedded{timedItem{"c", at}, 4},
		&nestedBytes{Item: bytesItem{[]byte{1}}, List: [][]byte{{2}, nil}, ByName: map[string][]byte{"k": {3}}, Fixed: [4]byte{4},
			ByPair: map[[2]byte]bool{{5, 6}: true}, Row: bytesRow{N: 7, B: []byte{8}}, Ptr: &[]byte{9}, IDs: []ID{{10}}},
	} {
		b, err := wireEnc.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	text := append([]byte{0x74}, "2027-01-15T08:00:00Z"...)
	f.Add(uint8(1), slices.Concat([]byte{0xa1, 1, 0xa1}, text, []byte{0x01}))                          // a text time as a key
	f.Add(uint8(1), slices.Concat([]byte{0xa1, 2, 0xa1, 0xa2, 1, 0x00, 2}, text, []byte{0x60}))        // in a key's field
	f.Add(uint8(1), []byte{0xa1, 2, 0xa2, 0xa2, 1, 0x00, 2, 0x05, 0x60, 0xa2, 1, 0x01, 2, 0x05, 0x60}) // two keys of one time
	f.Add(uint8(2), slices.Concat([]byte{0xa1, 1, 0x81, 0x83, 0x60}, text, []byte{0xf6}))              // in an array's position
	f.Add(uint8(2), []byte{0xa1, 2, 0x83, 0x61, 'n', 0xf7, 0x07})                                      // undefined in an embedded field's position
	f.Add(uint8(4), []byte{0xa1, 2, 0x82, 0x40, 0x81, 0x01})                                           // an array of integers for a byte string, in a list
	f.Add(uint8(4), []byte{0xa1, 5, 0xa1, 0x82, 0x01, 0x02, 0xf5})                                     // in a map key
	f.Add(uint8(0), []byte{0xa1, 5, 0xf7})                                                             // undefined for a list of times
	f.Add(uint8(4), []byte{0xa1, 2, 0xf7})                                                             // undefined for a list of byte strings
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fuzzWireRequest(t, wireCheckedTypes, kind, data)
	})
}
