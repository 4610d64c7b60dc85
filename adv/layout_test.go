package adv

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseLookalikeLayouts: advertising data of 31 octets that differ in
// one octet of its headers from the layout AppendBinary writes parse
// exactly as walking their structures reads them, under the default UUID
// and under UUIDs that share one octet with it.
func TestParseLookalikeLayouts(t *testing.T) {
	for _, c := range []Codec{{}, {UUID: 0x12FF}, {UUID: 0xFF12}} {
		enc, err := c.AppendBinary(nil, testPacket())
		require.NoError(t, err)
		for i := range 11 { // the octets before the service data's first
			for _, v := range []byte{0x00, 0x01, 0x02, 0x03, 0x12, 0x16, 0x17, 0xff, enc[i] ^ 0x01} {
				b := slices.Clone(enc)
				b[i] = v
				p, err := c.Parse(b)
				walked, walkErr := c.parseWalk(b)
				assert.Equal(t, walked, p, "UUID %04X, octet %d set to %02X", c.UUID, i, v)
				assert.Equal(t, walkErr, err, "UUID %04X, octet %d set to %02X", c.UUID, i, v)
			}
		}
	}

	good := ours(t, testPacket(), nil)
	for _, tt := range []struct {
		name string
		at   int
		v    byte
		want error
	}{
		// 03 01 06 03 | 03 FF FF 17 | 16 FF FF … : no service data
		{"Flags of two octets", 0, 0x03, ErrForeign},
		// 17 16 FF 00 …: service data of UUID 00FF
		{"service data of a UUID with our low octet", 10, 0x00, ErrForeign},
		{"service data of a UUID with our high octet", 9, 0x00, ErrForeign},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := slices.Clone(good)
			b[tt.at] = tt.v
			p, err := Parse(b)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, Packet{}, p)
		})
	}
}
