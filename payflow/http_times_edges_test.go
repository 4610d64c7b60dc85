package payflow

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWirePlanEdgesOfTheDecodersFields: the checks of wireUnmarshal
// follow the fields that the decoders fill through a struct embedded
// behind a pointer, and, of an untagged and a tagged field under one key
// at one level, the tagged one whichever comes first; a struct is taken
// from an array only for the option toarray of its field _, not for a
// tag that names it so; a float takes a floating-point number, which no
// other number type does.
func TestWirePlanEdgesOfTheDecodersFields(t *testing.T) {
	const simple5 = 0xe5
	refused := wirePlanRefused
	checkWirePlanCases(t, []wirePlanCase{
		{"struct embedded behind a pointer", new(struct {
			*WirePlanInner
		}), []byte{0xa1, 0x61, 'a', simple5},
			refused("struct { *payflow.WirePlanInner }.a", "int")},
		{"untagged field before a tagged one without a name", new(struct {
			WirePlanUntagged
			WirePlanOmitted
		}), []byte{0xa1, 0x61, 'X', simple5},
			refused("struct { payflow.WirePlanUntagged; payflow.WirePlanOmitted }.X", "int")},
		{"float into a float", new(struct {
			F float64 `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0xf9, 0x3e, 0x00}, ""},
		{"float into a float32", new(struct {
			F float32 `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0xfa, 0x3f, 0xc0, 0x00, 0x00}, ""},
		{"struct whose field _ is named toarray, without the option", new(struct {
			_ struct{} `cbor:"toarray"`
			N int      `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, simple5},
			refused("struct { _ struct {} \"cbor:\\\"toarray\\\"\"; N int \"cbor:\\\"1,keyasint\\\"\" }.1", "int")},
		{"float into an integer", new(struct {
			N int `cbor:"1,keyasint"`
		}), []byte{0xa1, 0x01, 0xf9, 0x3e, 0x00},
			"cbor: cannot unmarshal primitives into Go struct field struct { N int \"cbor:\\\"1,keyasint\\\"\" }.1 of type int"},
	})
	var at struct {
		F float64 `cbor:"1,keyasint"`
	}
	require.NoError(t, wireDecodeReply([]byte{0xa1, 0x01, 0xf9, 0x3e, 0x00}, &at))
	assert.Equal(t, 1.5, at.F)
}

// TestWireChecksEndOnDataCutShort: the walk of check, which follows items
// that the decoders took, ends with io.ErrUnexpectedEOF, without reading
// past the data, on data cut short: none at all, a head whose argument
// is missing, a text or a byte string of more octets than follow.
func TestWireChecksEndOnDataCutShort(t *testing.T) {
	for _, data := range [][]byte{{0x19, 0x01}, {0x1a, 0x01, 0x02, 0x03}, {0x1b, 0x01}, {0x99}, {0xb8}} {
		major, val, head := wireHead(data)
		assert.Equal(t, []any{data[0] >> 5, uint64(0), 0}, []any{major, val, head}, "%x", data)
	}
	major, val, head := wireHead([]byte{0x19, 0x01, 0x02})
	assert.Equal(t, []any{byte(0), uint64(0x0102), 3}, []any{major, val, head})

	timePlan := wirePlanFor(timeType)
	for _, data := range [][]byte{nil, {}} {
		rest, err := timePlan.check(data)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Nil(t, rest)
	}
	for _, data := range [][]byte{nil, {0x19, 0x01}, {0x62, 'a'}, {0x43, 0x01, 0x02}, {0x99, 0x00}, {0xb9}} {
		rest, err := wireSkipItem(data)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "%x", data)
		assert.Nil(t, rest, "%x", data)
	}
	for _, data := range [][]byte{{0x99, 0x00}, {0xb9}} {
		rest, err := wireCheckItems(data, func(_ int, items []byte) ([]byte, error) { return wireSkipItem(items) })
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "%x", data)
		assert.Nil(t, rest, "%x", data)
	}
	rest, err := wireSkipItem([]byte{0x62, 'a', 'b', 0x01})
	require.NoError(t, err)
	assert.Equal(t, []byte{0x01}, rest)
}
