package payflow

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// ContentType is the media type of every HTTP request and response body.
const ContentType = "application/cbor"

// Limits of a decoded HTTP body.
const (
	// DefaultMaxBodyBytes is the largest request body the handler reads
	// unless HandlerOptions.MaxBodyBytes says otherwise.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxReplyBytes is the largest response body the client reads
	// unless ClientOptions.MaxReplyBytes says otherwise.
	DefaultMaxReplyBytes = 4 << 20
	wireMaxNested        = 8
	wireMaxArray         = 1024
	wireMaxReplyArray    = 1 << 16
	wireMaxMapPairs      = 64
)

// The CBOR modes of the HTTP bodies, built once. Encoding is the core
// deterministic encoding of RFC 8949 §4.2.1 with times as integer Unix
// seconds and no tags. The request decoder is strict: bounded nesting,
// array and map sizes, definite lengths only, no tags, no duplicate map
// keys and no unknown fields. The response decoder is as strict except
// that it ignores map keys it does not know, so that a server may add
// response fields without breaking older phones. Both take only integer
// Unix seconds, or null for the zero time, into a time.Time field of a
// body (wireUnmarshal).
var (
	wireEnc     cbor.EncMode
	wireDec     cbor.DecMode
	wireDecResp cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeUnix
	eo.TimeTag = cbor.EncTagNone
	var err error
	if wireEnc, err = eo.EncMode(); err != nil {
		panic(err)
	}
	do := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   wireMaxNested,
		MaxArrayElements:  wireMaxArray,
		MaxMapPairs:       wireMaxMapPairs,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		IntDec:            cbor.IntDecConvertNone,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}
	if wireDec, err = do.DecMode(); err != nil {
		panic(err)
	}
	do.ExtraReturnErrors = cbor.ExtraDecErrorNone
	do.MaxArrayElements = wireMaxReplyArray
	if wireDecResp, err = do.DecMode(); err != nil {
		panic(err)
	}
}

// wireDecode decodes a request body into v; every failure matches
// ErrInvalid.
func wireDecode(data []byte, v any) error {
	if err := wireUnmarshal(wireDec, data, v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	return nil
}

// wireDecodeReply decodes a response body into v.
func wireDecodeReply(data []byte, v any) error {
	return wireUnmarshal(wireDecResp, data, v)
}

// wireUnmarshal decodes body data into v with mode, then refuses the times
// that mode takes but the protocol does not: a text (RFC 3339),
// floating-point or undefined value of a time.Time field of the struct v
// points to. It decodes data a second time for that, into the struct of
// wireTimes of v's type.
func wireUnmarshal(mode cbor.DecMode, data []byte, v any) error {
	if err := mode.Unmarshal(data, v); err != nil {
		return err
	}
	t := reflect.TypeOf(v).Elem() // v is a pointer: Unmarshal refuses anything else
	times, ok := wireTimesOf.Load(t)
	if !ok {
		times, _ = wireTimesOf.LoadOrStore(t, wireTimes(t))
	}
	if times == nil {
		return nil
	}
	return wireDecResp.Unmarshal(data, reflect.New(times.(reflect.Type)).Interface())
}

// wireTimesOf holds the wireTimes of each type wireUnmarshal decoded into.
var wireTimesOf sync.Map

// wireTimes returns a struct type with a wireTime field, under the same
// key, for each exported time.Time field of t; nil when there is none.
func wireTimes(t reflect.Type) any {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var times []reflect.StructField
	for i := range t.NumField() {
		if f := t.Field(i); f.Type == reflect.TypeFor[time.Time]() && f.IsExported() {
			times = append(times, reflect.StructField{Name: f.Name, Type: reflect.TypeFor[wireTime](), Tag: f.Tag})
		}
	}
	if times == nil {
		return nil
	}
	return reflect.StructOf(times)
}

// wireTime accepts the times of PROTOCOL.md §5.1: integer Unix seconds
// (major type 0 or 1), or null, which the encoder writes for the zero
// time.
type wireTime struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireTime) UnmarshalCBOR(data []byte) error {
	if len(data) == 0 || data[0]>>5 > 1 && data[0] != 0xf6 {
		return errors.New("a time is integer Unix seconds")
	}
	return nil
}

// UnmarshalCBOR implements cbor.Unmarshaler: an ID on the wire is a byte
// string of exactly 16 octets (a longer or shorter one is refused, never
// cut or padded).
func (id *ID) UnmarshalCBOR(data []byte) error {
	var b []byte
	if err := wireDecResp.Unmarshal(data, &b); err != nil {
		return err
	}
	if len(b) != len(id) {
		return fmt.Errorf("an ID is %d octets, not %d", len(id), len(b))
	}
	copy(id[:], b)
	return nil
}
