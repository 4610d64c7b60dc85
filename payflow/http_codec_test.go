package payflow

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// BenchmarkWireDecodeRequest decodes one body of each request kind, as
// the handler does.
func BenchmarkWireDecodeRequest(b *testing.B) {
	seeds := wireRequestSeeds()
	b.ReportAllocs()
	for b.Loop() {
		for i, body := range seeds {
			if err := wireDecode(body, wireRequestTypes[i]()); err != nil {
				b.Fatal(err)
			}
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

// wireRequestBodies returns the set of the types of the request bodies
// (wireRequestTypes), among wireBodies.
func wireRequestBodies() map[reflect.Type]bool {
	requests := map[reflect.Type]bool{}
	for _, fresh := range wireRequestTypes {
		requests[reflect.TypeOf(fresh()).Elem()] = true
	}
	return requests
}

// wireBodyFields yields each body type of wireBodies with each of its
// fields that the decoders fill.
func wireBodyFields(yield func(reflect.Type, wireField) bool) {
	for _, bt := range wireBodies {
		for _, f := range wireFields(bt) {
			if !yield(bt, f) {
				return
			}
		}
	}
}

// checkWireField decodes body, an item under key in a body of type bt,
// with the reply decoder and, for a request, the request decoder: it is
// taken when goType is "", else refused as of the wrong type naming the
// field, a request as invalid, a reply with the decoders' error naming
// the item's CBOR type cborType and goType, the Go type of its place.
func checkWireField(t *testing.T, bt reflect.Type, key string, body []byte, cborType, goType string) {
	t.Helper()
	request := wireRequestBodies()[bt]
	if goType == "" {
		if request {
			assert.NoError(t, wireDecode(body, reflect.New(bt).Interface()), "%v.%s %s", bt, key, cborType)
		}
		assert.NoError(t, wireDecodeReply(body, reflect.New(bt).Interface()), "%v.%s %s", bt, key, cborType)
		return
	}
	if request {
		err := wireDecode(body, reflect.New(bt).Interface())
		assert.ErrorIs(t, err, ErrInvalid, "%v.%s %s", bt, key, cborType)
		assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+bt.Name()+": field "+key+" has the wrong type", "%v.%s %s", bt, key, cborType)
	}
	assert.EqualError(t, wireDecodeReply(body, reflect.New(bt).Interface()),
		"cbor: cannot unmarshal "+cborType+" into Go struct field "+bt.String()+"."+key+" of type "+goType, "%v.%s %s", bt, key, cborType)
}

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
// of the wrong type, naming the Go type of the place; a byte string there
// is taken, and so is null, for no bytes, where a []byte goes.
func TestWireByteStrings(t *testing.T) {
	idType := reflect.TypeFor[ID]()
	checked := 0
	for bt, f := range wireBodyFields {
		var goType string
		var n int
		switch {
		case f.typ == idType:
			goType, n = "payflow.ID", len(ID{})
		case f.typ == reflect.TypeFor[[]byte]():
			goType, n = "[]uint8", 2
		default:
			continue
		}
		checked++
		key, err := strconv.Atoi(f.key)
		require.NoError(t, err)
		for _, bad := range wireNotByteStrings(n) { // {key: [1, 2, …]}, {key: undefined}
			body, err := wireEnc.Marshal(map[int]cbor.RawMessage{key: bad.item})
			require.NoError(t, err)
			checkWireField(t, bt, f.key, body, bad.cborType, goType)
		}
		if goType == "[]uint8" { // null: no bytes
			checkWireField(t, bt, f.key, []byte{0xa1, byte(key), 0xf6}, "null", "")
		}
	}
	assert.Equal(t, 18, checked, "the fields of a byte string or an ID in the bodies")

	// Nested: Info's chain is an array of byte strings.
	assert.EqualError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 0x41, 0x30, 0x81, 0x01}, new(Info)),
		"cbor: cannot unmarshal array into Go struct field payflow.Info.1 of type []uint8")
	assert.EqualError(t, wireDecodeReply([]byte{0xa1, 1, 0x82, 0x41, 0x30, 0xf7}, new(Info)),
		"cbor: cannot unmarshal undefined into Go struct field payflow.Info.1 of type []uint8")
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
		{1, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 1, 0xa1, 1}, x) }, 2, "[]uint8", func(v *nestedBytes) []byte { return v.Item.B }},
		{2, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 2, 0x82, 0x40}, x) }, 2, "[]uint8", func(v *nestedBytes) []byte { return v.List[1] }},
		{2, func(x []byte) []byte { // an array's length past 23 takes an octet of its own; h'81', not [h'81']
			return slices.Concat([]byte{0xa1, 2, 0x98, 24}, bytes.Repeat([]byte{0x41, 0x81}, 23), x)
		}, 2, "[]uint8", func(v *nestedBytes) []byte { return v.List[23] }},
		{3, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 3, 0xa1, 0x61, 'k'}, x) }, 2, "[]uint8", func(v *nestedBytes) []byte { return v.ByName["k"] }},
		{4, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 4}, x) }, 4, "[4]uint8", func(v *nestedBytes) []byte { return v.Fixed[:] }},
		{5, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 5, 0xa1}, x, []byte{0xf5}) }, 2, "[2]uint8", func(v *nestedBytes) []byte {
			for k := range v.ByPair {
				return k[:]
			}
			return nil
		}},
		{6, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 6, 0x82, 0x05}, x) }, 2, "[]uint8", func(v *nestedBytes) []byte { return v.Row.B }},
		{7, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 7}, x) }, 2, "[]uint8", func(v *nestedBytes) []byte { return *v.Ptr }},
		{8, func(x []byte) []byte { return slices.Concat([]byte{0xa1, 8, 0x81}, x) }, 16, "payflow.ID", func(v *nestedBytes) []byte { return v.IDs[0][:] }},
	}
	for _, p := range places {
		for _, b := range wireNotByteStrings(p.n) {
			bad := p.body(b.item)
			err := wireDecode(bad, new(nestedBytes))
			assert.ErrorIs(t, err, ErrInvalid, "field %d %s", p.key, b.cborType)
			assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: body is not a valid nestedBytes: field %d has the wrong type", p.key), b.cborType)
			goType := p.goTyp
			if p.key == 7 && b.cborType == "undefined" { // in place of the pointer
				goType = "*" + goType
			}
			assert.EqualError(t, wireDecodeReply(bad, new(nestedBytes)),
				fmt.Sprintf("cbor: cannot unmarshal %s into Go struct field payflow.nestedBytes.%d of type %s", b.cborType, p.key, goType))
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

// TestWireByteStringsUnderTextKeys: the check matches a text key to the
// field that the decoders fill, exactly, else the first in another case:
// null under a key that the decoders match to the byte string is taken
// (no bytes), and under one that they match to the integer refused, naming
// that field; undefined is refused under every key, naming the field.
func TestWireByteStringsUnderTextKeys(t *testing.T) {
	under := func(key string, item byte) []byte {
		b, err := wireEnc.Marshal(map[string]cbor.RawMessage{key: {item}})
		require.NoError(t, err)
		return b
	}
	for _, tt := range []struct {
		v           func() any
		key, field  string
		goType      string
		nullIsTaken bool
	}{
		{newAny[caseKeyed], "data", "data", "[]uint8", true},
		{newAny[caseKeyed], "Data", "data", "[]uint8", true},
		{newAny[caseKeyed], "DATA", "DATA", "int", false},
		{newAny[caseKeyedFirstInt], "data", "data", "[]uint8", true},
		{newAny[caseKeyedFirstInt], "Data", "DATA", "int", false},
		{newAny[caseKeyedFirstInt], "dAtA", "DATA", "int", false},
		{newAny[dashKeyed], "-", "-", "[]uint8", true},
	} {
		name := reflect.TypeOf(tt.v()).Elem()
		for _, item := range []struct {
			b     byte
			cbor  string
			taken bool
		}{{0xf6, "null", tt.nullIsTaken}, {0xf7, "undefined", false}} {
			body := under(tt.key, item.b)
			if item.taken {
				assert.NoError(t, wireDecode(body, tt.v()), "%v %s %s", name, tt.key, item.cbor)
				assert.NoError(t, wireDecodeReply(body, tt.v()), "%v %s %s", name, tt.key, item.cbor)
				continue
			}
			err := wireDecode(body, tt.v())
			assert.ErrorIs(t, err, ErrInvalid, "%v %s %s", name, tt.key, item.cbor)
			assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+name.Name()+": field "+tt.field+" has the wrong type", "%s %s", tt.key, item.cbor)
			assert.EqualError(t, wireDecodeReply(body, tt.v()),
				"cbor: cannot unmarshal "+item.cbor+" into Go struct field "+name.String()+"."+tt.field+" of type "+tt.goType, "%s %s", tt.key, item.cbor)
		}
	}
}

// TestWireListsUndefined: undefined in place of a whole array of byte
// strings or of times, which the CBOR library would take for no array,
// is of the wrong type, in a request as in a reply, refused as the
// decoders refuse any other value of the wrong type, naming the Go type
// of the array; null there is taken for no array, as if the key were left
// out.
func TestWireListsUndefined(t *testing.T) {
	for _, tt := range []struct {
		v      func() any
		key    byte
		goType string
		list   func(v any) any // the decoded array
	}{
		{newAny[Info], 1, "[][]uint8", func(v any) any { return v.(*Info).Chain }},
		{newAny[nestedBytes], 2, "[][]uint8", func(v any) any { return v.(*nestedBytes).List }},
		{newAny[nestedTimed], 5, "[]time.Time", func(v any) any { return v.(*nestedTimed).Times }},
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
// reply, naming the Go type of its place; null in place of a nested map
// (a struct), which the library would take for an empty one, is of the
// wrong type too, and in place of an array or a map (a slice, a Go map)
// taken as if it were left out.
func TestWireUndefinedContainers(t *testing.T) {
	requests := wireRequestBodies()
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
		v         func() any
		body      []byte
		field     string
		goType    string
		nullTaken bool
	}{
		{newAny[Catalog], []byte{0xa1, 3, 0xf7}, "3", "[]payflow.CatalogItem", true},
		{newAny[Catalog], []byte{0xa1, 3, 0x82, 0xa0, 0xf7}, "3", "payflow.CatalogItem", false},
		{newAny[PaymentView], []byte{0xa1, 9, 0xf7}, "9", "[]payflow.Line", true},
		{newAny[PaymentView], []byte{0xa1, 10, 0x81, 0xf7}, "10", "payflow.AssetLeg", false},
		{newAny[plainNested], []byte{0xa1, 1, 0xf7}, "1", "payflow.CatalogItem", false},
		{newAny[plainNested], []byte{0xa1, 2, 0xf7}, "2", "[][]uint64", true},
		{newAny[plainNested], []byte{0xa1, 2, 0x82, 0x80, 0xf7}, "2", "[]uint64", true},
		{newAny[plainNested], []byte{0xa1, 3, 0xf7}, "3", "map[string]payflow.Line", true},
		{newAny[plainNested], []byte{0xa1, 3, 0xa1, 0x61, 'k', 0xf7}, "3", "payflow.Line", false},
	} {
		name := reflect.TypeOf(tt.v()).Elem()
		null := bytes.ReplaceAll(tt.body, []byte{0xf7}, []byte{0xf6})
		for _, bad := range []struct {
			body []byte
			cbor string
		}{{tt.body, "undefined"}, {null, "null"}} {
			if bad.cbor == "null" && tt.nullTaken {
				for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
					assert.NoError(t, decode(null, tt.v()), "%x", null)
				}
				continue
			}
			err := wireDecode(bad.body, tt.v())
			assert.ErrorIs(t, err, ErrInvalid, "%x", bad.body)
			assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+name.Name()+": field "+tt.field+" has the wrong type", "%x", bad.body)
			assert.EqualError(t, wireDecodeReply(bad.body, tt.v()),
				"cbor: cannot unmarshal "+bad.cbor+" into Go struct field "+name.String()+"."+tt.field+" of type "+tt.goType, "%x", bad.body)
		}
	}
}

// wireNullable reports whether the protocol takes null in place of a
// value of type t (PROTOCOL.md §5.1): a pointer, a slice (a byte string
// too), a map or an interface, for no value, and a time.Time, for the
// zero time.
func wireNullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return t == timeType
}

// TestWireNullAndUndefined: in every field of every body that the handler
// and the client decode, undefined is of the wrong type, and so is null
// in place of a text string, an integer or a boolean, which the CBOR
// library would take for the zero value, as if the key were left out: a
// request is refused as invalid naming the field, a reply with the
// decoders' error for a value of the wrong type, naming the field and
// its Go type. Null is taken where a pointer, a slice, a map or a time
// goes.
func TestWireNullAndUndefined(t *testing.T) {
	idType := reflect.TypeFor[ID]()
	refused := 0
	for bt, f := range wireBodyFields {
		key, err := strconv.Atoi(f.key)
		require.NoError(t, err)
		for _, item := range []struct {
			b    byte
			name string
		}{{0xf6, "null"}, {0xf7, "undefined"}} {
			if item.b == 0xf6 && f.typ == idType {
				continue // an ID of no octets: TestIDWire
			}
			goType := f.typ.String()
			if item.b == 0xf6 && wireNullable(f.typ) {
				goType = "" // taken
			} else {
				refused++
			}
			checkWireField(t, bt, f.key, []byte{0xa1, byte(key), item.b}, item.name, goType)
		}
	}
	assert.Equal(t, 93, refused, "the null and undefined items refused in the fields of the bodies")
}

// TestWireNullAndUndefinedNested: the rule of TestWireNullAndUndefined
// holds at any depth: undefined in place of a pointer, of a nested map, a
// list or a map that holds times or byte strings, of a map key of a
// struct type, and null in place of a nested map (a struct) or of a text
// string, an integer or a boolean within one, are refused, naming the
// field of the body that holds them and the Go type of their place.
func TestWireNullAndUndefinedNested(t *testing.T) {
	for _, tt := range []struct {
		v      func() any
		body   []byte
		field  string
		cbor   string
		goType string
	}{
		{newAny[nestedTimed], []byte{0xa1, 2, 0xf7}, "2", "undefined", "*payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 6, 0xf7}, "6", "undefined", "*time.Time"},
		{newAny[nestedTimed], []byte{0xa1, 10, 0xa1, 10, 0xf7}, "10", "undefined", "*payflow.nestedTimed"},
		{newAny[nestedTimed], []byte{0xa1, 1, 0xf7}, "1", "undefined", "payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 1, 0xf6}, "1", "null", "payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 3, 0xf7}, "3", "undefined", "[]payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 3, 0x81, 0xf6}, "3", "null", "payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 4, 0xf7}, "4", "undefined", "map[int]payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 4, 0xa1, 0x01, 0xf7}, "4", "undefined", "payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 9, 0x81, 0x81, 0xf7}, "9", "undefined", "*payflow.timedItem"},
		{newAny[nestedTimed], []byte{0xa1, 1, 0xa1, 1, 0xf6}, "1", "null", "string"},
		{newAny[nestedTimed], []byte{0xa1, 2, 0xa1, 1, 0xf7}, "2", "undefined", "string"},
		{newAny[nestedTimed], []byte{0xa1, 11, 0xf6}, "11", "null", "string"},
		{newAny[timeKeyed], []byte{0xa1, 2, 0xa1, 0xf7, 0x60}, "2", "undefined", "payflow.keyedItem"},
		{newAny[timeKeyed], []byte{0xa1, 2, 0xa1, 0xf6, 0x60}, "2", "null", "payflow.keyedItem"},
		{newAny[timeKeyed], []byte{0xa1, 2, 0xa1, 0xa1, 1, 0xf6, 0x60}, "2", "null", "int"},
		{newAny[timeKeyed], []byte{0xa1, 1, 0xa1, 0x00, 0xf7}, "1", "undefined", "int"},
		{newAny[Catalog], []byte{0xa1, 3, 0x81, 0xa1, 1, 0xf6}, "3", "null", "string"},
		{newAny[Catalog], []byte{0xa1, 3, 0x81, 0xa1, 3, 0xf7}, "3", "undefined", "uint64"},
		{newAny[PaymentView], []byte{0xa1, 9, 0x81, 0xa1, 3, 0xf6}, "9", "null", "uint64"},
		{newAny[nestedBytes], []byte{0xa1, 4, 0xf6}, "4", "null", "[4]uint8"},
		{newAny[nestedBytes], []byte{0xa1, 6, 0x82, 0xf6, 0x40}, "6", "null", "int"},
		{newAny[nestedBytes], []byte{0xa1, 8, 0x81, 0xf7}, "8", "undefined", "payflow.ID"},
	} {
		name := reflect.TypeOf(tt.v()).Elem()
		err := wireDecode(tt.body, tt.v())
		assert.ErrorIs(t, err, ErrInvalid, "%x", tt.body)
		assert.EqualError(t, err, "payflow: invalid request: body is not a valid "+name.Name()+": field "+tt.field+" has the wrong type", "%x", tt.body)
		assert.EqualError(t, wireDecodeReply(tt.body, tt.v()),
			"cbor: cannot unmarshal "+tt.cbor+" into Go struct field "+name.String()+"."+tt.field+" of type "+tt.goType, "%x", tt.body)
	}

	// Null is taken for a nil pointer, slice or map, and the zero time.
	for _, body := range [][]byte{
		{0xa1, 2, 0xf6}, {0xa1, 6, 0xf6}, {0xa1, 3, 0xf6}, {0xa1, 4, 0xf6}, {0xa1, 5, 0x81, 0xf6},
		{0xa1, 9, 0x81, 0x81, 0xf6}, {0xa1, 1, 0xa1, 2, 0xf6},
	} {
		for _, decode := range []func([]byte, any) error{wireDecode, wireDecodeReply} {
			assert.NoError(t, decode(body, new(nestedTimed)), "%x", body)
		}
	}
}

// TestWireOwnBodiesTaken: every body that the platform's and the phones'
// own encoder writes, of every body type, zero or filled in, is taken by
// the decoders, although the encoder writes null for a nil byte string or
// list and for the zero time; and it writes no undefined.
func TestWireOwnBodiesTaken(t *testing.T) {
	requests := wireRequestBodies()
	var bodies [][]byte
	var types []reflect.Type
	for _, bt := range wireBodies {
		enc, err := wireEnc.Marshal(reflect.New(bt).Interface())
		require.NoError(t, err)
		bodies, types = append(bodies, enc), append(types, bt)
	}
	for i, body := range wireRequestSeeds() {
		bodies, types = append(bodies, body), append(types, reflect.TypeOf(wireRequestTypes[i]()).Elem())
	}
	for i, body := range wireReplySeeds() {
		bodies, types = append(bodies, body), append(types, reflect.TypeOf(wireReplyTypes[i]()).Elem())
	}
	for _, v := range []any{
		&Catalog{MerchantID: "m1", Currency: "EUR", Items: []CatalogItem{{}, {SKU: "pear"}}},
		&PaymentView{State: StatePending, ConsentNonce: []byte{1}, ManualCapture: true, HoldExpiresAt: time.Unix(1_800_000_000, 0), Lines: []Line{{}}, Legs: []AssetLeg{{}}},
		&Info{Chain: [][]byte{nil, {}}},
		&SessionView{State: SessionWaiting},
	} {
		enc, err := wireEnc.Marshal(wireReply(v))
		require.NoError(t, err)
		bodies, types = append(bodies, enc), append(types, reflect.TypeOf(v).Elem())
	}
	nulls := 0
	for i, body := range bodies {
		nulls += bytes.Count(body, []byte{0xf6})
		if requests[types[i]] {
			assert.NoError(t, wireDecode(body, reflect.New(types[i]).Interface()), "%v %x", types[i], body)
		}
		assert.NoError(t, wireDecodeReply(body, reflect.New(types[i]).Interface()), "%v %x", types[i], body)
		_, err := wirePlanFor(reflect.TypeFor[any]()).check(body)
		assert.NoError(t, err, "no undefined in %v %x", types[i], body)
	}
	assert.NotZero(t, nulls, "the encoder writes null for nil byte strings and lists and the zero time")
}

// refusingAPI is an API whose every call panics: no request that the
// handler refuses reaches it.
type refusingAPI struct{ API }

// TestHTTPRefusesNullAndUndefined: a request body with null in place of a
// text string or an integer, or undefined anywhere, is answered 400
// invalid, naming the field.
func TestHTTPRefusesNullAndUndefined(t *testing.T) {
	h, err := NewHandler(refusingAPI{}, HandlerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	capture := "/v1/requests/" + ID{1}.String() + "/capture"
	for _, tt := range []struct {
		path string
		body []byte
		msg  string
	}{
		{"/v1/challenges", []byte{0xa1, 1, 0xf6}, "body is not a valid ChallengeRequest: field 1 has the wrong type"},
		{"/v1/challenges", []byte{0xa1, 1, 0xf7}, "body is not a valid ChallengeRequest: field 1 has the wrong type"},
		{capture, []byte{0xa1, 2, 0xf6}, "body is not a valid CaptureRequest: field 2 has the wrong type"},
		{capture, []byte{0xa1, 2, 0xf7}, "body is not a valid CaptureRequest: field 2 has the wrong type"},
		{"/v1/login", []byte{0xa1, 1, 0xf7}, "body is not a valid LoginRequest: field 1 has the wrong type"},
		// Other simple values, which the library takes for integers.
		{capture, []byte{0xa1, 2, 0xe5}, "body is not a valid CaptureRequest: field 2 has the wrong type"},
		{capture, []byte{0xa1, 2, 0xf8, 0xff}, "body is not a valid CaptureRequest: field 2 has the wrong type"},
		{"/v1/challenges", []byte{0xa1, 1, 0xe5}, "body is not a valid ChallengeRequest: field 1 has the wrong type"},
	} {
		req := httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader(tt.body))
		req.Header.Set("Content-Type", ContentType)
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s %x", tt.path, tt.body)
		var e errorBody
		require.NoError(t, wireDecodeReply(rec.Body.Bytes(), &e), "%s %x", tt.path, tt.body)
		assert.Equal(t, "invalid", e.Code, "%s %x", tt.path, tt.body)
		assert.Equal(t, "payflow: invalid request: "+tt.msg, e.Message, "%s %x", tt.path, tt.body)
	}
}

// TestWireSimpleValuesAsIntegers: a simple value other than a boolean,
// null or undefined is refused in place of an integer, in a reply too,
// which the library alone takes for the integer n, and a boolean still
// takes true. In place of a string, the library refuses it itself.
func TestWireSimpleValuesAsIntegers(t *testing.T) {
	require.Error(t, wireDecodeReply([]byte{0xa1, 0x08, 0xf0}, new(PaymentView)), "simple(16) for the amount")
	var n int
	require.NoError(t, wireDec.Unmarshal([]byte{0xf0}, &n))
	assert.Equal(t, 16, n, "the library takes simple(16) for 16")
	assert.EqualError(t, wireUnmarshal(wireDec, []byte{0xf0}, new(int)), "cbor: cannot unmarshal primitives into Go value of type int")
	assert.EqualError(t, wireDec.Unmarshal([]byte{0xf0}, new(string)), "cbor: cannot unmarshal primitives into Go value of type string")
	var v struct {
		B bool `cbor:"1,keyasint"`
	}
	require.NoError(t, wireDecodeReply([]byte{0xa1, 0x01, 0xf5}, &v))
	assert.True(t, v.B)
}

// TestWireUndefinedInSkippedValues: undefined is refused also inside
// values the reply decoder ignores (a key it does not know).
func TestWireUndefinedInSkippedValues(t *testing.T) {
	for _, body := range [][]byte{
		{0xa1, 0x10, 0xf7},       // {16: undefined}
		{0xa1, 0x10, 0x81, 0xf7}, // {16: [undefined]}
	} {
		require.Error(t, wireDecodeReply(body, new(Catalog)), "%x", body)
	}
	require.NoError(t, wireDecodeReply([]byte{0xa1, 0x10, 0x81, 0xf6}, new(Catalog)), "null under a key ignored")
}

// TestWireTextInSkippedValues: a text string that is not UTF-8 is
// refused also inside values the reply decoder ignores (a key it does not
// know), as it is in a field (PROTOCOL.md §5.1: the client decodes a reply
// by the request's rules but for the keys it ignores).
func TestWireTextInSkippedValues(t *testing.T) {
	for _, body := range [][]byte{
		{0xa1, 0x10, 0x61, 0xff},                   // {16: "\xff"}
		{0xa1, 0x10, 0x81, 0x61, 0xff},             // {16: ["\xff"]}
		{0xa1, 0x10, 0xa1, 0x61, 0xff, 0x01},       // {16: {"\xff": 1}}
		{0xa1, 0x10, 0xa1, 0x01, 0x62, 0xc3, 0x28}, // {16: {1: "\xc3("}}
	} {
		err := wireDecodeReply(body, new(Catalog))
		require.Error(t, err, "%x", body)
		assert.Equal(t, "cbor: invalid UTF-8 string", err.Error(), "%x", body)
	}
	require.Error(t, wireDecodeReply([]byte{0xa1, 0x02, 0x61, 0xff}, new(Catalog)), "in a field")
	require.NoError(t, wireDecodeReply([]byte{0xa1, 0x10, 0x62, 0xc3, 0xa9}, new(Catalog)), "UTF-8 under a key ignored")
}

// TestWireReplyUnknownKeys: a reply's keys that the client does not know
// are ignored when they are integers from -2^63 to 2^63-1 or text strings,
// under which a server adds fields; a reply holding a key of another kind
// is refused as malformed (PROTOCOL.md §5.1).
func TestWireReplyUnknownKeys(t *testing.T) {
	id := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	field := append([]byte{0x01, 0x50}, id[:]...) // 1: id
	for name, tt := range map[string]struct {
		key []byte
		ok  bool
	}{
		"99":          {[]byte{0x18, 99}, true},
		"-2^63":       {[]byte{0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		"2^63-1":      {[]byte{0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		"text":        {[]byte{0x62, 'z', 'z'}, true},
		"-2^63-1":     {[]byte{0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0}, false},
		"2^63":        {[]byte{0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0}, false},
		"byte string": {[]byte{0x41, 0x01}, false},
	} {
		body := append([]byte{0xa2}, field...)
		body = append(append(body, tt.key...), 0x00) // {1: id, key: 0}
		var got CaptureRequest
		err := wireDecodeReply(body, &got)
		if !tt.ok {
			assert.Error(t, err, name)
			continue
		}
		if assert.NoError(t, err, name) {
			assert.Equal(t, id, got.RequestID, name)
		}
	}
}

// TestWireLimits: the decoders take a body at each limit of PROTOCOL.md
// §5.1 and refuse one just past it, naming the limit: nesting 8 deep (the
// body's map the first level), arrays of 1024 elements in a request and
// of 65536 in a reply, maps of 64 pairs.
func TestWireLimits(t *testing.T) {
	// nested is a map of one entry, key k, whose value is depth-1 arrays
	// each holding the next, the last holding 0: depth levels in all.
	nested := func(k byte, depth int) []byte {
		return append(append([]byte{0xa1, k}, bytes.Repeat([]byte{0x81}, depth-1)...), 0x00)
	}
	// array is a map of one entry, key k, whose value is an array of n
	// items item.
	array := func(k byte, n int, item ...byte) []byte {
		b := []byte{0xa1, k, 0x9a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		return append(b, bytes.Repeat(item, n)...)
	}
	// pairs is a map of n entries, keys 24 on, values 0.
	pairs := func(n int) []byte {
		b := []byte{0xb8, byte(n)}
		for i := range n {
			b = append(b, 0x18, byte(24+i), 0x00)
		}
		return b
	}
	const req = "payflow: invalid request: body is not a valid ChallengeRequest: "
	requests := []struct {
		name string
		body []byte
		want string
	}{
		{"nesting 8 deep", nested(1, 8), req + "field 1 has the wrong type"},
		{"nesting 9 deep", nested(1, 9), req + "exceeded max nested level 8"},
		{"array of 1024", array(1, 1024, 0x00), req + "field 1 has the wrong type"},
		{"array of 1025", array(1, 1025, 0x00), req + "exceeded max number of elements 1024 for CBOR array"},
		{"map of 64 pairs", pairs(64), req + "entry 1 of the map has an unknown key"},
		{"map of 65 pairs", pairs(65), req + "exceeded max number of key-value pairs 64 for CBOR map"},
	}
	for _, tt := range requests {
		t.Run("request "+tt.name, func(t *testing.T) {
			err := wireDecode(tt.body, new(ChallengeRequest))
			assert.ErrorIs(t, err, ErrInvalid)
			assert.EqualError(t, err, tt.want)
		})
	}

	replies := []struct {
		name string
		body []byte
		want string // "" for none
	}{
		{"nesting 8 deep under an unknown key", nested(9, 8), ""},
		{"nesting 9 deep under an unknown key", nested(9, 9), "cbor: exceeded max nested level 8"},
		{"array of 65536", array(1, 65536, 0x41, 0x00), ""},
		{"array of 65537", array(1, 65537, 0x41, 0x00), "cbor: exceeded max number of elements 65536 for CBOR array"},
		{"map of 64 pairs", pairs(64), ""},
		{"map of 65 pairs", pairs(65), "cbor: exceeded max number of key-value pairs 64 for CBOR map"},
	}
	for _, tt := range replies {
		t.Run("reply "+tt.name, func(t *testing.T) {
			var info Info
			err := wireDecodeReply(tt.body, &info)
			if tt.want == "" {
				require.NoError(t, err)
				if tt.body[1] == 1 {
					assert.Len(t, info.Chain, 65536)
				}
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}
