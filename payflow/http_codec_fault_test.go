package payflow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWireReplyRoundsAHoldAlone: a held request's view whose expiry is a
// whole second and whose hold's expiry is not has the hold's rounded up
// to the next whole second, the request's as it is.
func TestWireReplyRoundsAHoldAlone(t *testing.T) {
	v := &PaymentView{State: StateHeld, ExpiresAt: time.Unix(1_800_000_000, 0), HoldExpiresAt: time.Unix(1_800_000_060, 1)}
	before := *v
	enc, err := wireEnc.Marshal(wireReply(v))
	require.NoError(t, err)
	var got PaymentView
	require.NoError(t, wireDecodeReply(enc, &got))
	assert.Equal(t, int64(1_800_000_000), got.ExpiresAt.Unix())
	assert.Equal(t, int64(1_800_000_061), got.HoldExpiresAt.Unix())
	assert.Equal(t, before, *v, "the API's view is unchanged")
}

// wireOuter holds a struct and a text string.
type wireOuter struct {
	Inner wireInner `cbor:"1,keyasint"`
	Text  string    `cbor:"2,keyasint"`
}

type wireInner struct {
	N int `cbor:"1,keyasint"`
}

// wireInnerByKey is a body of structs, whose fields the decoder reports
// under their own type's name.
type wireInnerByKey map[int]wireInner

// TestWireDecodeFaults: a body is refused for a value of the wrong type in
// a nested struct (named by its key in the struct of the body, and in a
// body of another type by none), for a text string that is not UTF-8,
// and for an item of indefinite length; a request's with ErrInvalid and
// words of PROTOCOL.md §5, a reply's with the decoder's own.
func TestWireDecodeFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		fault string // of a request
		reply string
	}{
		{"nested value of the wrong type", []byte{0xa1, 0x01, 0xa1, 0x01, 0x61, 'x'},
			"field 1 has the wrong type",
			"cbor: cannot unmarshal UTF-8 text string into Go struct field payflow.wireOuter.1 of type int"},
		{"text not UTF-8", []byte{0xa1, 0x02, 0x61, 0xff},
			"invalid UTF-8 string",
			"cbor: invalid UTF-8 string"},
		{"map of indefinite length", []byte{0xbf, 0x02, 0x60, 0xff},
			"indefinite-length map isn't allowed",
			"cbor: indefinite-length map isn't allowed"},
		{"text of indefinite length", []byte{0xa1, 0x02, 0x7f, 0x61, 'a', 0xff},
			"indefinite-length UTF-8 text string isn't allowed",
			"cbor: indefinite-length UTF-8 text string isn't allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := wireDecode(tc.body, new(wireOuter))
			assert.ErrorIs(t, err, ErrInvalid)
			assert.EqualError(t, err, "payflow: invalid request: body is not a valid wireOuter: "+tc.fault)
			assert.EqualError(t, wireDecodeReply(tc.body, new(wireOuter)), tc.reply)
		})
	}
	err := wireDecode([]byte{0xa1, 0x01, 0xa1, 0x01, 0x61, 'x'}, new(wireInnerByKey))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: body is not a valid wireInnerByKey: a value has the wrong type")
}
