package payflow

import (
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWireNullOrUndefinedBodyOfAMap: a body of null or undefined in place
// of a map is refused as not a map, as it is in place of a struct, though
// a map's place elsewhere takes null for no map.
func TestWireNullOrUndefinedBodyOfAMap(t *testing.T) {
	for _, body := range [][]byte{{0xf6}, {0xf7}} {
		name := wireCBORType(body)
		var m map[int]string
		err := wireDecodeReply(body, &m)
		assert.EqualError(t, err, "cbor: cannot unmarshal "+name+" into Go value of type map[int]string")
		assert.Nil(t, m)
		err = wireDecodeReply(body, new(PaymentView))
		assert.EqualError(t, err, "cbor: cannot unmarshal "+name+" into Go value of type payflow.PaymentView")
	}
	var held struct {
		M map[int]string `cbor:"1,keyasint"`
	}
	require.NoError(t, wireDecodeReply([]byte{0xa1, 0x01, 0xf6}, &held)) // {1: null}
	assert.Nil(t, held.M)
}

// The types of TestWirePlanFollowsTheDecodersFields, exported so that the
// decoders fill them where they are embedded.
type (
	// WirePlanRaw decodes itself from any item, an array too, though it is
	// a slice of bytes.
	WirePlanRaw []byte
	// WirePlanInner is embedded under a tag name, as a field.
	WirePlanInner struct {
		A int `cbor:"a"`
	}
	// WirePlanOmitted's X is tagged, without a name.
	WirePlanOmitted struct {
		X int `cbor:",omitempty"`
	}
	// WirePlanUntagged's X is not tagged.
	WirePlanUntagged struct{ X any }
	// WirePlanCommon is embedded twice at one level, through WirePlanLeft
	// and WirePlanRight.
	WirePlanCommon struct {
		X int `cbor:"x"`
	}
	WirePlanLeft  struct{ WirePlanCommon }
	WirePlanRight struct{ WirePlanCommon }
	// WirePlanDeep's X is deeper than a field X of the struct it is
	// embedded in.
	WirePlanDeep struct {
		X int `cbor:"X"`
	}
	// WirePlanFirst and WirePlanSecond both have a tagged field under "x".
	WirePlanFirst struct {
		X int `cbor:"x"`
	}
	WirePlanSecond struct {
		Y int `cbor:"x"`
	}
)

func (r *WirePlanRaw) UnmarshalCBOR(data []byte) error {
	*r = append(WirePlanRaw(nil), data...)
	return nil
}

// TestWirePlanFollowsTheDecodersFields: the values that the checks of
// wireUnmarshal refuse (simple(5), which the decoders take for the
// integer 5, in place of an integer) are refused where the decoders fill
// a field, by the key and by the field that the decoders take it for, and
// are not looked at under a key that the reply decoder ignores; an
// interface and a type that decodes itself take any item.
func TestWirePlanFollowsTheDecodersFields(t *testing.T) {
	const simple5 = 0xe5
	refused := wirePlanRefused
	checkWirePlanCases(t, []wirePlanCase{
		{"true into an interface", new(struct {
			A any `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0xf5}, ""},
		{"array into a byte slice that decodes itself", new(struct {
			R WirePlanRaw `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0x82, 0x01, 0x02}, ""},
		{"integer key of a field named by text", new(struct {
			N int `cbor:"1"`
		}), []byte{0xa1, 0x01, simple5}, ""},
		{"text key of a field under an integer key", new(struct {
			N int `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x61, '1', simple5}, ""},
		{"largest integer key", new(struct {
			N int `cbor:"9223372036854775807,keyasint"`
		}), []byte{0xa1, 0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, simple5},
			refused("struct { N int \"cbor:\\\"9223372036854775807,keyasint\\\"\" }.9223372036854775807", "int")},
		{"smallest integer key", new(struct {
			N int `cbor:"-9223372036854775808,keyasint"`
		}), []byte{0xa1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, simple5},
			refused("struct { N int \"cbor:\\\"-9223372036854775808,keyasint\\\"\" }.-9223372036854775808", "int")},
		{"negative integer key", new(struct {
			Zero any `cbor:"0,keyasint"`
			N    int `cbor:"-1,keyasint"`
		}), []byte{0xa1, 0x20, simple5},
			refused("struct { Zero interface {} \"cbor:\\\"0,keyasint\\\"\"; N int \"cbor:\\\"-1,keyasint\\\"\" }.-1", "int")},
		{"key that folds to a field's name of another length", new(struct {
			K int `cbor:"k"`
		}), append(append([]byte{0xa1, 0x63}, "\u212a"...), simple5), ""},
		{"name of a json tag", new(struct {
			N int `json:"amount"`
		}), append(append([]byte{0xa1, 0x66}, "amount"...), simple5),
			refused("struct { N int \"json:\\\"amount\\\"\" }.amount", "int")},
		{"field left out", new(struct {
			N int `cbor:"-"`
		}), []byte{0xa1, 0x61, '-', simple5}, ""},
		{"struct embedded under a tag name", new(struct {
			WirePlanInner `cbor:"in"`
		}), []byte{0xa1, 0x62, 'i', 'n', 0xa1, 0x61, 'a', simple5},
			refused("struct { payflow.WirePlanInner \"cbor:\\\"in\\\"\" }.in", "int")},
		{"tagged field without a name over an untagged one", new(struct {
			WirePlanOmitted
			WirePlanUntagged
		}), []byte{0xa1, 0x61, 'X', simple5},
			refused("struct { payflow.WirePlanOmitted; payflow.WirePlanUntagged }.X", "int")},
		{"struct embedded twice at one level", new(struct {
			WirePlanLeft
			WirePlanRight
		}), []byte{0xa1, 0x61, 'x', simple5}, ""},
		{"shallower untagged field over a deeper tagged one", new(struct {
			X any
			WirePlanDeep
		}), []byte{0xa1, 0x61, 'X', simple5}, ""},
		{"two integer keys of one value", new(struct {
			A int `cbor:"1,keyasint"`
			B int `cbor:"01,keyasint"`
		}), []byte{0xa1, 0x01, simple5}, ""},
		{"text into a byte string", new(struct {
			B []byte `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0x62, 'a', 'b'},
			"cbor: cannot unmarshal UTF-8 text string into Go struct field struct { B []uint8 \"cbor:\\\"1,keyasint\\\"\" }.1 of type []uint8"},
		{"two tagged fields under one name at one level", new(struct {
			WirePlanFirst
			WirePlanSecond
		}), []byte{0xa1, 0x61, 'x', simple5}, ""},
	})
}

// wirePlanCase is a body decoded by wireDecodeReply into a value v, and
// the error it gives ("" for none).
type wirePlanCase struct {
	name string
	v    any
	body []byte
	err  string
}

// wirePlanRefused is the error of a simple value or a float (simple(5)
// in most cases) in place of a value of goType in the field named field.
func wirePlanRefused(field, goType string) string {
	return "cbor: cannot unmarshal primitives into Go struct field " + field + " of type " + goType
}

// checkWirePlanCases decodes each case's body into its value and checks
// its error, a *cbor.UnmarshalTypeError of the text given, or none.
func checkWirePlanCases(t *testing.T, cases []wirePlanCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := wireDecodeReply(tt.body, tt.v)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.err)
			assert.ErrorAs(t, err, new(*cbor.UnmarshalTypeError))
		})
	}
}

// TestWireCheckOfMalformedItems: check, which walks items that the
// decoders took, also ends on items that they would refuse: an array or
// a map of more items than octets follow (a count past the largest int
// among them) ends the data early, and a tag is skipped with its item, an
// undefined one refused.
func TestWireCheckOfMalformedItems(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	plan := wirePlanFor(reflect.TypeFor[any]())
	for _, head := range []byte{0x9b, 0xbb} { // an array, a map, of 2^64-1 items
		rest, err := plan.check(append([]byte{head}, huge...))
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "%x", head)
		assert.Nil(t, rest)
	}
	rest, err := plan.check([]byte{0xc1, 0xf7}) // tag 1 of undefined
	assert.EqualError(t, err, "cbor: cannot unmarshal undefined into Go value of type interface {}")
	assert.Nil(t, rest)
	rest, err = plan.check([]byte{0xc1, 0x01, 0x02}) // tag 1 of 1, then 2
	require.NoError(t, err)
	assert.Equal(t, []byte{0x02}, rest)
}

// wirePlanArray is decoded from an array of its fields.
type wirePlanArray struct {
	_    struct{} `cbor:",toarray"`
	Name string
	At   time.Time
}

// TestWireFieldOfAnArrayNamedInErrors: an item of a struct decoded from
// an array (toarray) that the checks refuse is named by its field, as an
// item of a struct decoded from a map is.
func TestWireFieldOfAnArrayNamedInErrors(t *testing.T) {
	past := []byte{0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // math.MaxInt64 seconds
	err := wireDecodeReply(append([]byte{0x82, 0x61, 'a'}, past...), new(wirePlanArray))
	assert.EqualError(t, err, "cbor: cannot unmarshal positive integer into Go struct field payflow.wirePlanArray.At of type time.Time")
	err = wireDecode(append([]byte{0x82, 0x61, 'a'}, past...), new(wirePlanArray))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: body is not a valid wirePlanArray: field At has the wrong type")
}

// TestWireArrayOfMoreItemsThanFields: an array of more items than the
// fields of the struct decoded from it (toarray) has its extra items
// passed over by the checks and is refused by the decoders, for its
// length, without a panic.
func TestWireArrayOfMoreItemsThanFields(t *testing.T) {
	body := slices.Concat([]byte{0x83, 0x61, 'a'}, wireAt, []byte{0x61, 'x'})
	err := wireDecode(body, new(wirePlanArray))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "payflow: invalid request: body is not a valid wirePlanArray: ")
	assert.EqualError(t, wireDecodeReply(body, new(wirePlanArray)),
		"cbor: cannot unmarshal array into Go value of type payflow.wirePlanArray (cannot decode CBOR array to struct with different number of elements)")
	rest, err := wirePlanFor(reflect.TypeFor[wirePlanArray]()).check(append(body, 0x07))
	require.NoError(t, err)
	assert.Equal(t, []byte{0x07}, rest)
}
