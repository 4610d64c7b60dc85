package payflow

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
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
// that it ignores map keys it does not know that are integers of int64 or
// text strings, so that a server may add response fields under such keys
// without breaking older phones (a key of another kind fails the reply).
// Both refuse, anywhere in a body, what the protocol does not take
// although the library does (wireUnmarshal): undefined; null but for a
// pointer, a slice, a map, an interface or the zero time; another simple
// value for an integer (the library refuses one for a string itself); a
// time that is not integer Unix seconds; an array of small integers for a
// byte string; a text string that is not UTF-8 under a key that the
// response decoder ignores, which the library skips unread.
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
// ErrInvalid, with a message that names the message v points to (its
// type's name, as PROTOCOL.md §5.3 names it) and what is wrong with the
// body (wireFault), and no Go type.
func wireDecode(data []byte, v any) error {
	if err := wireUnmarshal(wireDec, data, v); err != nil {
		t := reflect.TypeOf(v).Elem() // v is a pointer: Unmarshal refuses anything else
		return fmt.Errorf("%w: body is not a valid %s: %s", ErrInvalid, t.Name(), wireFault(err, t))
	}
	return nil
}

// wireFault says what is wrong with a body that failed to decode into a
// t with err, in the terms of PROTOCOL.md §5 rather than those of Go: a
// field is named by its key, and a value or key of the wrong type by
// where it is, not by the Go type it could not be decoded into; an
// unknown or repeated key by the entry of the map that holds it, the
// first entry (key-value pair) being entry 1. The decoder's own words are
// kept for the other faults, which name no Go type.
func wireFault(err error, t reflect.Type) string {
	if e, ok := errors.AsType[*cbor.UnmarshalTypeError](err); ok {
		// The decoder names the field of t it was filling, if any: its
		// key after t's name and a dot.
		field, inField := strings.CutPrefix(e.StructFieldName, t.String()+".")
		switch {
		case inField:
			return "field " + field + " has the wrong type"
		case e.StructFieldName != "":
			return "a value has the wrong type"
		case e.GoType == t.String():
			return "it is not a map"
		default: // a map key that is neither an integer of int64 nor a text string
			return "a map key is unknown"
		}
	}
	// The decoder counts a map's entries from 0; the message, as PROTOCOL.md
	// §5.1, from 1.
	if e, ok := errors.AsType[*cbor.UnknownFieldError](err); ok {
		return fmt.Sprintf("entry %d of the map has an unknown key", e.Index+1)
	}
	if e, ok := errors.AsType[*cbor.DupMapKeyError](err); ok {
		return fmt.Sprintf("entry %d of the map repeats a key", e.Index+1)
	}
	if _, ok := errors.AsType[*cbor.ExtraneousDataError](err); ok {
		return "bytes follow its CBOR item"
	}
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends within a CBOR item"
	}
	return strings.TrimPrefix(err.Error(), "cbor: ")
}

// wireDecodeReply decodes a response body into v.
func wireDecodeReply(data []byte, v any) error {
	return wireUnmarshal(wireDecResp, data, v)
}

// wireReply returns what the handler encodes for out, the reply of an API
// call: out itself, but for a view whose expiry falls within a second, a
// copy with it rounded up to the next whole second: a session's
// (SessionView.ExpiresAt), a payment request's (PaymentView.ExpiresAt)
// and a hold's (PaymentView.HoldExpiresAt). The encoder drops the
// fraction of a second of every time, which would show them expiring up
// to a second before the platform expires them, and a phone would give
// up on what the platform still honours (PROTOCOL.md §5.1). The other
// times, the expiries of a challenge and a login, stay rounded down.
func wireReply(out any) any {
	switch v := out.(type) {
	case *SessionView:
		if v != nil && !wholeSecond(v.ExpiresAt) {
			c := *v
			c.ExpiresAt = ceilSecond(v.ExpiresAt)
			return &c
		}
	case *PaymentView:
		if v != nil && (!wholeSecond(v.ExpiresAt) || !wholeSecond(v.HoldExpiresAt)) {
			c := *v
			c.ExpiresAt, c.HoldExpiresAt = ceilSecond(v.ExpiresAt), ceilSecond(v.HoldExpiresAt)
			return &c
		}
	}
	return out
}

// wholeSecond reports whether t is a whole Unix second, as the zero time
// is.
func wholeSecond(t time.Time) bool { return t.Nanosecond() == 0 }

// ceilSecond returns t rounded up to a whole Unix second: t itself when
// it is one (the zero time too), else the next.
func ceilSecond(t time.Time) time.Time {
	if wholeSecond(t) {
		return t
	}
	return time.Unix(t.Unix()+1, 0)
}

// UnmarshalCBOR implements cbor.Unmarshaler: an ID on the wire is a byte
// string of exactly 16 octets (a longer or shorter one is refused, never
// cut or padded, and so is null, no octets; an array of small integers or
// undefined is of the wrong type).
func (id *ID) UnmarshalCBOR(data []byte) error {
	if err := wireByteString(data, "payflow.ID"); err != nil {
		return err
	}
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
