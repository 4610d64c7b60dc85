package adv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testPacket() Packet {
	p := Packet{Role: Shopper, TxPower: -12, Flags: FlagAssets}
	for i := range p.EID {
		p.EID[i] = byte(0xa0 + i)
	}
	return p
}

func TestAppendBinaryLayout(t *testing.T) {
	p := testPacket()
	b, err := Codec{UUID: 0xABCD}.AppendBinary([]byte{0xee}, p)
	require.NoError(t, err)
	require.Len(t, b, 1+Size)
	assert.Equal(t, []byte{
		0xee, // what was there before
		0x02, 0x01, 0x06,
		0x03, 0x03, 0xcd, 0xab,
		0x17, 0x16, 0xcd, 0xab,
		0x11,
		0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
		0xf4, 0x02, 0x00,
	}, b)

	got, err := Codec{UUID: 0xABCD}.Parse(b[1:])
	require.NoError(t, err)
	assert.Equal(t, p, got)

	_, err = Parse(b[1:])
	assert.ErrorIs(t, err, ErrForeign, "another deployment's UUID is foreign")
}

func TestAppendBinaryRejects(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want error
	}{
		{"zero role", Packet{}, ErrRole},
		{"role 3", Packet{Role: 3}, ErrRole},
		{"role 15", Packet{Role: 15}, ErrRole},
		{"undefined flag", Packet{Role: Seller, Flags: 0x04}, ErrFlags},
		{"high flag", Packet{Role: Seller, Flags: 0x80 | FlagBusy}, ErrFlags},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			b, err := tt.p.AppendBinary(prefix)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, []byte{1, 2, 3}, b)
			_, err = tt.p.MarshalBinary()
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// ours returns our advert for p with the service data octets changed by
// edit.
func ours(t *testing.T, p Packet, edit func(sd []byte)) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	require.NoError(t, err)
	if edit != nil {
		edit(b[11:])
	}
	return b
}

func TestParse(t *testing.T) {
	p := testPacket()
	good := ours(t, p, nil)
	sd := good[7:] // the service data structure, length octet first
	tests := []struct {
		name string
		in   []byte
		want error // nil: parses to p
	}{
		{"our advert", good, nil},
		{"service data alone", sd, nil},
		{"service data then padding", append(append([]byte{}, sd...), 0, 0, 0), nil},
		{"service data after a name", append([]byte{0x03, 0x09, 'h', 'i'}, sd...), nil},
		{"service data before vendor data", append(append([]byte{}, sd...), 0x03, 0xff, 0x59, 0x00), nil},
		{"empty", nil, ErrForeign},
		{"one zero octet", []byte{0}, ErrForeign},
		{"zeros", make([]byte, 31), ErrForeign},
		{"flags only", []byte{0x02, 0x01, 0x06}, ErrForeign},
		{"zero length hides ours", append([]byte{0x00}, sd...), ErrForeign},
		{"empty structure", []byte{0x01, 0xff}, ErrForeign},
		{"service data of one octet", []byte{0x02, 0x16, 0xff}, ErrForeign},
		{"other service data", []byte{0x04, 0x16, 0xaa, 0xfe, 0x00}, ErrForeign},
		{"our UUID as manufacturer", []byte{0x04, 0xff, 0xff, 0xff, 0x11}, ErrForeign},
		{"length past the end", []byte{0x02, 0x01, 0x06, 0x05, 0xff, 0x01}, ErrMalformed},
		{"length octet alone", []byte{0x02, 0x01, 0x06, 0x03}, ErrMalformed},
		{"our advert truncated", good[:30], ErrMalformed},
		{"our advert lying length", append(append([]byte{}, good[:7]...), append([]byte{0x18}, good[8:]...)...), ErrMalformed},
		{"junk after ours", append(append([]byte{}, good...), 0x07, 0x01), ErrMalformed},
		{"ours twice", append(append([]byte{}, good...), sd...), ErrMalformed},
		{"ours without data", []byte{0x03, 0x16, 0xff, 0xff}, ErrMalformed},
		{"ours short", []byte{0x05, 0x16, 0xff, 0xff, 0x11, 0x00}, ErrMalformed},
		{"ours long", append(append([]byte{0x18}, sd[1:]...), 0x00), ErrMalformed},
		{"version 0", ours(t, p, func(sd []byte) { sd[0] = 0x01 }), ErrVersion},
		{"version 2", ours(t, p, func(sd []byte) { sd[0] = 0x21 }), ErrVersion},
		{"version 2 longer", []byte{0x04, 0x16, 0xff, 0xff, 0x21}, ErrVersion},
		{"role 0", ours(t, p, func(sd []byte) { sd[0] = 0x10 }), ErrRole},
		{"role 3", ours(t, p, func(sd []byte) { sd[0] = 0x13 }), ErrRole},
		{"role 15", ours(t, p, func(sd []byte) { sd[0] = 0x1f }), ErrRole},
		{"role 9", ours(t, p, func(sd []byte) { sd[0] = 0x19 }), ErrRole},  // Shopper with the nibble's high bit
		{"role 10", ours(t, p, func(sd []byte) { sd[0] = 0x1a }), ErrRole}, // Seller with the nibble's high bit
		{"reserved set", ours(t, p, func(sd []byte) { sd[19] = 0x01 }), ErrReserved},
		{"reserved all ones", ours(t, p, func(sd []byte) { sd[19] = 0xff }), ErrReserved},
		{"version 2 role 0", ours(t, p, func(sd []byte) { sd[0] = 0x20 }), ErrVersion},
		{"role 0 reserved set", ours(t, p, func(sd []byte) { sd[0], sd[19] = 0x10, 0x01 }), ErrRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, p, got)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, Packet{}, got)
			for _, other := range []error{ErrForeign, ErrMalformed, ErrVersion, ErrRole, ErrReserved} {
				if other != tt.want {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

func TestParseKeepsUndefinedFlags(t *testing.T) {
	p := testPacket()
	b := ours(t, p, func(sd []byte) { sd[18] = 0xfe })
	got, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, Flags(0xfe), got.Flags)
	assert.Equal(t, p.EID, got.EID)
}

func TestParseCopies(t *testing.T) {
	p := testPacket()
	b := ours(t, p, nil)
	got, err := Parse(b)
	require.NoError(t, err)
	clear(b)
	assert.Equal(t, p, got)
}

func TestParseServiceData(t *testing.T) {
	p := testPacket()
	b := ours(t, p, nil)
	got, err := ParseServiceData(b[11:])
	require.NoError(t, err)
	assert.Equal(t, p, got)

	_, err = ParseServiceData(nil)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseServiceData(b[11:30])
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseServiceData(b[7:]) // with the structure header: 0x17 reads as version 1
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseServiceData(b[9:]) // with the UUID 0xFFFF: version 15
	assert.ErrorIs(t, err, ErrVersion)
}

// TestParseAllocs: Parse allocates nothing, on the layout it reads
// without a walk, on any other, and for each error it returns; nor does
// ParseServiceData.
func TestParseAllocs(t *testing.T) {
	good := ours(t, testPacket(), nil)
	sd := good[7:] // the service data structure, length octet first
	inputs := map[string][]byte{
		"our advert":           good,
		"service data alone":   sd,
		"length past the end":  {0x02, 0x01, 0x06, 0x05, 0xff, 0x01},
		"foreign":              {0x04, 0x16, 0xaa, 0xfe, 0x00},
		"ours twice":           append(append([]byte{}, good...), sd...),
		"ours without data":    {0x03, 0x16, 0xff, 0xff},
		"ours short":           {0x05, 0x16, 0xff, 0xff, 0x11, 0x00},
		"version 2":            ours(t, testPacket(), func(sd []byte) { sd[0] = 0x21 }),
		"role 3":               ours(t, testPacket(), func(sd []byte) { sd[0] = 0x13 }),
		"reserved set":         ours(t, testPacket(), func(sd []byte) { sd[19] = 1 }),
		"service data in walk": append([]byte{0x03, 0x09, 'h', 'i'}, sd...),
	}
	for name, in := range inputs {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = Parse(in) }), name)
	}
	for name, in := range map[string][]byte{"ours": good[11:], "none": nil, "short": good[11:30], "role 3": inputs["role 3"][11:]} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = ParseServiceData(in) }), "ParseServiceData: "+name)
	}
}

func TestRole(t *testing.T) {
	tests := []struct {
		r        Role
		valid    bool
		opposite Role
		name     string
	}{
		{0, false, 0, "role(0)"},
		{Shopper, true, Seller, "shopper"},
		{Seller, true, Shopper, "seller"},
		{7, false, 0, "role(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.valid, tt.r.Valid())
			assert.Equal(t, tt.opposite, tt.r.Opposite())
			assert.Equal(t, tt.name, tt.r.String())
		})
	}
}

func TestUnmarshalBinary(t *testing.T) {
	p := testPacket()
	b := ours(t, p, nil)
	var got Packet
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, p, got)

	before := got
	assert.ErrorIs(t, got.UnmarshalBinary(b[:20]), ErrMalformed)
	assert.ErrorIs(t, got.UnmarshalBinary(readHex(t, "ibeacon.hex")), ErrForeign)
	assert.Equal(t, before, got, "unchanged on error")
}
