package simcard_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestParseCommand(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name string
		in   string
		want simcard.Command
	}{
		{"case 1", "00A40400", simcard.Command{CLA: 0, INS: 0xA4, P1: 4}},
		{"case 2S", "00CA010110", simcard.Command{INS: 0xCA, P1: 1, P2: 1, Ne: 16}},
		{"case 2S, Le 00", "00CA010100", simcard.Command{INS: 0xCA, P1: 1, P2: 1, Ne: 256}},
		{"case 3S", "00200080023132", simcard.Command{INS: 0x20, P2: 0x80, Data: []byte("12")}},
		{"case 4S", "00A4040002AABB00", simcard.Command{INS: 0xA4, P1: 4, Data: []byte{0xAA, 0xBB}, Ne: 256}},
		{"case 2E", "00CA0101000100", simcard.Command{INS: 0xCA, P1: 1, P2: 1, Ne: 256, Extended: true}},
		{"case 2E, Le 0000", "00CA0101000000", simcard.Command{INS: 0xCA, P1: 1, P2: 1, Ne: 65536, Extended: true}},
		{"case 3E", "00DA0101000002AABB", simcard.Command{INS: 0xDA, P1: 1, P2: 1, Data: []byte{0xAA, 0xBB}, Extended: true}},
		{"case 4E", "8050030000012C" + hex.EncodeToString(long) + "0000", simcard.Command{CLA: 0x80, INS: 0x50, P1: 3, Data: long, Ne: 65536, Extended: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, err := simcard.ParseCommand(in)
			require.NoError(t, err)
			if tt.want.Data == nil {
				assert.Empty(t, got.Data)
				got.Data = nil
			}
			assert.Equal(t, tt.want, got)
			enc, err := got.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, in, enc)
		})
	}
}

func TestParseCommandMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                "",
		"three octets":         "00A404",
		"Lc past the end":      "00CA010102AA",
		"two extra octets":     "00CA010101AABBCC",
		"extended Lc zero":     "00CA01010000000102",
		"extended truncated":   "00CA01010001",
		"extended Lc mismatch": "00DA0101000005AABB",
		"extended, Le 1 octet": "00DA0101000002AABB00",
		"short Lc, long Le":    "00DA010102AABB0000",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := simcard.ParseCommand(unhex(t, in))
			assert.ErrorIs(t, err, simcard.ErrAPDU)
		})
	}
}

func TestCommandAppendBinaryLimits(t *testing.T) {
	for name, c := range map[string]simcard.Command{
		"short with 256 octets": {Data: make([]byte, 256)},
		"short with Ne 257":     {Ne: 257},
		"extended Ne 65537":     {Ne: 65537, Extended: true},
		"negative Ne":           {Ne: -1},
		"extended 65536 octets": {Data: make([]byte, 65536), Extended: true},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := c.AppendBinary([]byte{1})
			assert.ErrorIs(t, err, simcard.ErrAPDU)
			assert.Equal(t, []byte{1}, b)
		})
	}
}

func TestParseResponse(t *testing.T) {
	r, err := simcard.ParseResponse([]byte{1, 2, 0x90, 0})
	require.NoError(t, err)
	assert.Equal(t, simcard.Response{Data: []byte{1, 2}, SW: 0x9000}, r)
	enc, err := r.AppendBinary(nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 0x90, 0}, enc)
	_, err = simcard.ParseResponse([]byte{0x90})
	assert.ErrorIs(t, err, simcard.ErrAPDU)
}

// FuzzParseCommand: ParseCommand never panics, and whatever it accepts
// encodes back to the same octets.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"00A40400", "00CA010100", "00200080023132", "00A4040002AABB00",
		"00CA0101000000", "00DA0101000002AABB", "00DA0101000002AABB0000", "00CA01010000000102", "00"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := simcard.ParseCommand(in)
		if err != nil {
			require.ErrorIs(t, err, simcard.ErrAPDU)
			return
		}
		enc, err := c.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, in, enc)
	})
}

// FuzzParseResponse: ParseResponse never panics, refuses (ErrAPDU) only
// what has no status word, splits the rest into its data and its last two
// octets, whose encoding gives the same octets back, and hands out data
// that cannot grow over the status word.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"9000", "0102039000", "6100", "", "90"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		keep := bytes.Clone(in)
		r, err := simcard.ParseResponse(in)
		if len(in) < 2 {
			require.ErrorIs(t, err, simcard.ErrAPDU)
			return
		}
		require.NoError(t, err)
		n := len(in) - 2
		require.Equal(t, uint16(in[n])<<8|uint16(in[n+1]), r.SW)
		require.Equal(t, in[:n], r.Data)
		enc, err := r.AppendBinary(nil)
		require.NoError(t, err)
		require.Equal(t, in, enc)
		_ = append(r.Data, 0xAA, 0xBB)
		require.Equal(t, keep, in, "appending to Data changed the response")
	})
}
