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

// Bodies with byte strings at every depth a body may put them: in a
// nested struct, in slices, map values and keys, a fixed-size array, a
// struct decoded from an array (toarray), behind a pointer, and IDs.
type (
	bytesItem struct {
		B []byte `cbor:"1,keyasint"`
	}
	bytesRow struct {
		_ struct{} `cbor:",toarray"`
		N int
		B []byte
	}
	nestedBytes struct {
		Item   bytesItem         `cbor:"1,keyasint"`
		List   [][]byte          `cbor:"2,keyasint"`
		ByName map[string][]byte `cbor:"3,keyasint"`
		Fixed  [4]byte           `cbor:"4,keyasint"`
		ByPair map[[2]byte]bool  `cbor:"5,keyasint"`
		Row    bytesRow          `cbor:"6,keyasint"`
		Ptr    *[]byte           `cbor:"7,keyasint"`
		IDs    []ID              `cbor:"8,keyasint"`
	}
)

// wireArrayOf returns a CBOR array of n small integers 1, 2, …, n (n at
// most 23): what the CBOR library would take into a []byte, or a
// [n]byte, in place of a byte string of those octets.
func wireArrayOf(n int) []byte {
	a := []byte{0x80 | byte(n)}
	for i := range n {
		a = append(a, byte(i+1))
	}
	return a
}

// wireNotByteStrings returns the items of the wrong type that the CBOR
// library would take into a []byte, or a [n]byte, in place of a byte
// string of n octets, each with the CBOR type that the decoders' error
// names: an array of n small integers (wireArrayOf) and undefined.
func wireNotByteStrings(n int) []struct {
	cborType string
	item     []byte
} {
	return []struct {
		cborType string
		item     []byte
	}{{"array", wireArrayOf(n)}, {"undefined", []byte{0xf7}}}
}

// TestWireByteStrings: a byte string (bstr, ID) is a CBOR byte string:
// an array of small integers or undefined in its place is of the wrong
// type, in every field of a byte string of every body that the handler
// and the client decode, refused as the decoders refuse any other value
// of the wrong type; a byte string there is taken, and so is null, for no
// bytes, where a []byte goes.
func TestWireByteStrings(t *testing.T) {
	requests := map[reflect.Type]bool{}
	for _, fresh := range wireRequestTypes {
		requests[reflect.TypeOf(fresh()).Elem()] = true
	}
	idType := reflect.TypeFor[ID]()
	checked := 0
	for _, bt := range wireBodies {
		for _, f := range wireFields(bt) {
			var goType string
			var n int
			switch {
			case f.typ == idType:
				goType, n = "payflow.ID", len(ID{})
			case f.typ == reflect.TypeFor[[]byte]():
				goType, n = "byte string", 2
			default:
				continue
			}
			checked++
			key, err := strconv.Atoi(f.key)
			require.NoError(t, err)
			for _, bad := range wireNotByteStrings(n) { // {key: [1, 2, …]}, {key: undefined}
				body, err := wireEnc.Marshal(map[int]cbor.RawMessage{key: bad.item})
				require.NoError(t, err)
				if requests[bt] {
					err := wireDecode(body, reflect.New(bt).Interface())
					assert.ErrorIs(t, err, ErrInvalid, "%v.%s %s", bt, f.key, bad.cborType)
					assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+bt.Name()+": field "+f.key+" has the wrong type", "%v.%s %s", bt, f.key, bad.cborType)
				}
				assert.EqualError(t, wireDecodeReply(body, reflect.New(bt).Interface()),
					"cbor: cannot unmarshal "+bad.cborType+" into Go struct field "+bt.String()+"."+f.key+" of type "+goType, "%v.%s", bt, f.key)
			}
			if goType == "byte string" { // null: no bytes
				body := []byte{0xa1, byte(key), 0xf6}
				if requests[bt] {
					assert.NoError(t, wireDecode(body, reflect.New(bt).Interface()), "%v.%s null", bt, f.key)
				}
				assert.NoError(t, wireDecodeReply(body, reflect.New(bt).Interface()), "%v.%s null", bt, f.key)
			}
		}
	}
	assert.Equal(t, 18, checked, "the fields of a byte string or an ID in the bodies")

	// Nested: Info's chain is an array of byte strings.
	assert.EqualError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 0x41, 0x30, 0x81, 0x01}, new(Info)),
		"cbor: cannot unmarshal array into Go struct field payflow.Info.1 of type byte string")
	assert.EqualError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 0x41, 0x30, 0xf7}, new(Info)),
		"cbor: cannot unmarshal undefined into Go struct field payflow.Info.1 of type byte string")
	var info Info
	require.NoError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 0x41, 0x30, 0xf6}, &info))
	assert.Equal(t, [][]byte{{0x30}, nil}, info.Chain)

	// Each place puts an item where a byte string goes, and reads it back.
	places := []struct {
		key   byte
		body  func(item []byte) []byte
		n     int // the octets of the byte string
		goTyp string
		read  func(v *nestedBytes) []byte
	}{
		{1, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1, 1}, x) }, 2, "byte string", func(v *nestedBytes) []byte { return v.Item.B }},
		{2, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0x82, 0x40}, x) }, 2, "byte string", func(v *nestedBytes) []byte { return v.List[1] }},
		{2, func(x []byte) []byte { // an array's length past 23 takes an octet of its own; h'81', not [h'81']
			return slices.Concat([]byte{0xa1, 2, 0x98, 24}, bytes.Repeat([]byte{0x41, 0x81}, 23), x)
		}, 2, "byte string", func(v *nestedBytes) []byte { return v.List[23] }},
		{3, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 3, 0xa1, 0x61, 'k'}, x) }, 2, "byte string", func(v *nestedBytes) []byte { return v.ByName["k"] }},
		{4, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 4}, x) }, 4, "byte string", func(v *nestedBytes) []byte { return v.Fixed[:] }},
		{5, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 5, 0xa1}, x, []byte{0xf5}) }, 2, "byte string", func(v *nestedBytes) []byte {
			for k := range v.ByPair {
				return k[:]
			}
			return nil
		}},
		{6, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 6, 0x82, 0x05}, x) }, 2, "byte string", func(v *nestedBytes) []byte { return v.Row.B }},
		{7, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 7}, x) }, 2, "byte string", func(v *nestedBytes) []byte { return *v.Ptr }},
		{8, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 8, 0x81}, x) }, 16, "payflow.ID", func(v *nestedBytes) []byte { return v.IDs[0][:] }},
	}
	for _, p := range places {
		for _, b := range wireNotByteStrings(p.n) {
			bad := p.body(b.item)
			err := wireDecode(bad, new(nestedBytes))
			assert.ErrorIs(t, err, ErrInvalid, "field %d %s", p.key, b.cborType)
			assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: body is not a valid nestedBytes: field %d has the wrong type", p.key), b.cborType)
			assert.EqualError(t, wireDecodeReply(bad, new(nestedBytes)),
				fmt.Sprintf("cbor: cannot unmarshal %s into Go struct field payflow.nestedBytes.%d of type %s", b.cborType, p.key, p.goTyp))
		}

		want := wireArrayOf(p.n)[1:]
		good := p.body(append([]byte{0x40 | byte(p.n)}, want...))
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			var v nestedBytes
			if assert.NoError(t, decode(good, &v), "field %d", p.key) {
				assert.Equal(t, want, p.read(&v), "field %d", p.key)
			}
		}
	}

	// The valid bodies of every kind still decode.
	for i, body := range wireRequestSeeds() {
		assert.NoError(t, wireDecode(body, wireRequestTypes[i]()), "request %d", i)
	}
	for i, body := range wireReplySeeds() {
		assert.NoError(t, wireDecodeReply(body, wireReplyTypes[i]()), "reply %d", i)
	}
}

// caseKeyed has text keys that differ only in case: the decoders match
// a key to the field under it, else to the first field under it in
// another case.
type caseKeyed struct {
	Data []byte `cbor:"data"`
	N    int    `cbor:"DATA"`
}

// caseKeyedFirstInt is caseKeyed with its fields the other way round: a
// key in a third case goes to the integer, the first field in order.
type caseKeyedFirstInt struct {
	N    int    `cbor:"DATA"`
	Data []byte `cbor:"data"`
}

// dashKeyed has a field under the text key "-", which its tag writes
// "-," (a tag of "-" alone leaves a field out).
type dashKeyed struct {
	D []byte `cbor:"-,"`
}

// TestWireByteStringsUnderTextKeys: the check of the byte strings matches
// a text key to the field that the decoders fill: undefined under the
// key of an integer is taken although a byte string goes
// under the same key in another case, and undefined under a key that the
// decoders match to the byte string in another case is refused.
func TestWireByteStringsUnderTextKeys(t *testing.T) {
	undefinedUnder := func(key string) []byte {
		b, err := wireEnc.Marshal(map[string]cbor.RawMessage{key: {0xf7}})
		require.NoError(t, err)
		return b
	}
	for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
		assert.NoError(t, decode(undefinedUnder("DATA"), new(caseKeyed)))
	}
	for _, key := range []string{"data", "Data"} {
		err := wireDecode(undefinedUnder(key), new(caseKeyed))
		assert.ErrorIs(t, err, ErrInvalid, key)
		assert.EqualError(t, err, "payflow: invalid request: body is not a valid caseKeyed: field data has the wrong type", key)
		assert.EqualError(t, wireDecodeReply(undefinedUnder(key), new(caseKeyed)),
			"cbor: cannot unmarshal undefined into Go struct field payflow.caseKeyed.data of type byte string", key)
	}
	for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
		for _, key := range []string{"DATA", "Data", "dAtA"} {
			assert.NoError(t, decode(undefinedUnder(key), new(caseKeyedFirstInt)), key)
		}
	}
	err := wireDecode(undefinedUnder("-"), new(dashKeyed))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: body is not a valid dashKeyed: field - has the wrong type")
	assert.EqualError(t, wireDecodeReply(undefinedUnder("-"), new(dashKeyed)),
		"cbor: cannot unmarshal undefined into Go struct field payflow.dashKeyed.- of type byte string")
}

// TestWireListsUndefined: undefined in place of a whole array of byte
// strings or of times, which the CBOR library would take for no array,
// is of the wrong type, in a request as in a reply, refused as the
// decoders refuse any other value of the wrong type; null there is taken
// for no array, as if the key were left out.
func TestWireListsUndefined(t *testing.T) {
	for _, tt := range []struct {
		v      func() any
		key    byte
		goType string
		list   func(v any) any // the decoded array
	}{
		{newAny[Info], 1, "array of byte strings", func(v any) any { return v.(*Info).Chain }},
		{newAny[nestedBytes], 2, "array of byte strings", func(v any) any { return v.(*nestedBytes).List }},
		{newAny[nestedTimed], 5, "array of times", func(v any) any { return v.(*nestedTimed).Times }},
	} {
		name := reflect.TypeOf(tt.v()).Elem()
		undefined := []byte{0xa1, tt.key, 0xf7}
		if _, reply := tt.v().(*Info); !reply {
			err := wireDecode(undefined, tt.v())
			assert.ErrorIs(t, err, ErrInvalid, "%v", name)
			assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: body is not a valid %s: field %d has the wrong type", name.Name(), tt.key))
		}
		assert.EqualError(t, wireDecodeReply(undefined, tt.v()),
			fmt.Sprintf("cbor: cannot unmarshal undefined into Go struct field %v.%d of type %s", name, tt.key, tt.goType))

		null := []byte{0xa1, tt.key, 0xf6}
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			v := tt.v()
			if assert.NoError(t, decode(null, v), "%v null", name) {
				assert.Nil(t, tt.list(v), "%v null", name)
			}
		}
	}
}

// plainNested holds maps and arrays without a time or a byte string: a
// nested map, an array of arrays and a map of maps.
type plainNested struct {
	Item   CatalogItem     `cbor:"1,keyasint"`
	Grid   [][]uint64      `cbor:"2,keyasint"`
	ByName map[string]Line `cbor:"3,keyasint"`
}

// TestWireUndefinedContainers: a body that is null or undefined is not a
// map; undefined in place of a nested map or of an array, or of an
// element of an array that is a map or an array, which the CBOR library
// would take for no value, is of the wrong type, in a request as in a
// reply; null in place of a nested map or an array is taken as if it
// were left out.
func TestWireUndefinedContainers(t *testing.T) {
	requests := map[reflect.Type]bool{}
	for _, fresh := range wireRequestTypes {
		requests[reflect.TypeOf(fresh()).Elem()] = true
	}
	for _, bt := range wireBodies {
		for _, item := range []struct {
			b    byte
			name string
		}{{0xf6, "null"}, {0xf7, "undefined"}} {
			if requests[bt] {
				err := wireDecode([]byte{item.b}, reflect.New(bt).Interface())
				assert.ErrorIs(t, err, ErrInvalid, "%v %s", bt, item.name)
				assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+bt.Name()+": it is not a map", "%v %s", bt, item.name)
			}
			assert.EqualError(t, wireDecodeReply([]byte{item.b}, reflect.New(bt).Interface()),
				"cbor: cannot unmarshal "+item.name+" into Go value of type "+bt.String(), "%v %s", bt, item.name)
		}
	}

	for _, tt := range []struct {
		v      func() any
		body   []byte
		field  string
		goType string
	}{
		{newAny[Catalog], []byte{0xa1, 3, 0xf7}, "3", "array of maps"},
		{newAny[Catalog], []byte{0xa1, 3, 0x82, 0xa0, 0xf7}, "3", "map"},
		{newAny[PaymentView], []byte{0xa1, 9, 0xf7}, "9", "array of maps"},
		{newAny[PaymentView], []byte{0xa1, 10, 0x81, 0xf7}, "10", "map"},
		{newAny[plainNested], []byte{0xa1, 1, 0xf7}, "1", "map"},
		{newAny[plainNested], []byte{0xa1, 2, 0xf7}, "2", "array of arrays"},
		{newAny[plainNested], []byte{0xa1, 2, 0x82, 0x80, 0xf7}, "2", "array"},
		{newAny[plainNested], []byte{0xa1, 3, 0xa1, 0x61, 'k', 0xf7}, "3", "map"},
	} {
		name := reflect.TypeOf(tt.v()).Elem()
		err := wireDecode(tt.body, tt.v())
		assert.ErrorIs(t, err, ErrInvalid, "%x", tt.body)
		assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+name.Name()+": field "+tt.field+" has the wrong type", "%x", tt.body)
		assert.EqualError(t, wireDecodeReply(tt.body, tt.v()),
			"cbor: cannot unmarshal undefined into Go struct field "+name.String()+"."+tt.field+" of type "+tt.goType, "%x", tt.body)

		// Null in the same place is taken as if it were left out.
		null := bytes.ReplaceAll(tt.body, []byte{0xf7}, []byte{0xf6})
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			assert.NoError(t, decode(null, tt.v()), "%x", null)
		}
	}
	var c Catalog
	require.NoError(t, wireDecodeReply([]byte{0xa1, 3, 0x82, 0xa0, 0xf6}, &c))
	assert.Equal(t, []CatalogItem{{}, {}}, c.Items)
}
