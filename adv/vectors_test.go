package adv

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the casimpay vectors in testdata")

// readHex reads a testdata vector: '#' comment lines, then hexadecimal
// octets separated by white space.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var digits strings.Builder
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	require.NoError(t, err, name)
	return b
}

// writeHex writes a vector with a comment, one AD structure per line.
func writeHex(t testing.TB, name, comment string, b []byte) {
	t.Helper()
	var out strings.Builder
	for line := range strings.SplitSeq(strings.TrimSpace(comment), "\n") {
		out.WriteString("# " + line + "\n")
	}
	for off := 0; off < len(b); {
		n := int(b[off]) + 1
		out.WriteString(spacedHex(b[off:min(off+n, len(b))]) + "\n")
		off += n
	}
	require.NoError(t, os.WriteFile(filepath.Join("testdata", name), []byte(out.String()), 0o644))
}

func spacedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, " ")
}

func seq(from byte) []byte {
	b := make([]byte, 16)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// exampleTime is the instant of the worked example of PROTOCOL.md §1.
var exampleTime = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// ourVectors are the casimpay adverts frozen in testdata.
var ourVectors = []struct {
	file    string
	comment string
	secret  []byte
	role    Role
	txPower int8
	flags   Flags
}{
	{
		file: "casimpay_seller.hex",
		comment: `casimpay advert of a seller (the worked example of PROTOCOL.md section 1):
advertising secret 000102030405060708090a0b0c0d0e0f, epoch of
2026-01-01T00:00:00Z, Tx power -8 dBm, no flags, default service UUID 0xFFFF.`,
		secret: seq(0x00), role: Seller, txPower: -8,
	},
	{
		file: "casimpay_shopper.hex",
		comment: `casimpay advert of a busy shopper: advertising secret
101112131415161718191a1b1c1d1e1f, epoch of 2026-01-01T00:00:00Z,
Tx power -4 dBm, flags FlagBusy, default service UUID 0xFFFF.`,
		secret: seq(0x10), role: Shopper, txPower: -4, flags: FlagBusy,
	},
}

func TestOurVectors(t *testing.T) {
	for _, v := range ourVectors {
		t.Run(v.file, func(t *testing.T) {
			eid, err := DeriveEID(v.secret, Epoch(exampleTime))
			require.NoError(t, err)
			want := Packet{Role: v.role, EID: eid, TxPower: v.txPower, Flags: v.flags}
			b, err := want.MarshalBinary()
			require.NoError(t, err)
			if *update {
				writeHex(t, v.file, v.comment, b)
			}
			frozen := readHex(t, v.file)
			require.Equal(t, frozen, b, "the encoder no longer produces the frozen advert")

			got, err := Parse(frozen)
			require.NoError(t, err)
			assert.Equal(t, want, got)

			// Field by field, with the walker alone.
			w := NewWalker(frozen)
			require.True(t, w.Next())
			f, ok := w.Structure().Flags()
			require.True(t, ok)
			assert.Equal(t, LEGeneralDiscoverable|BREDRNotSupported, f)
			require.True(t, w.Next())
			assert.Equal(t, 3, w.Offset())
			assert.True(t, w.Structure().HasUUID16(DefaultUUID))
			require.True(t, w.Next())
			uuid, sd, ok := w.Structure().ServiceData16()
			require.True(t, ok)
			assert.Equal(t, DefaultUUID, uuid)
			require.Len(t, sd, ServiceDataSize)
			assert.Equal(t, byte(Version<<4|byte(v.role)), sd[0])
			assert.Equal(t, eid[:], sd[1:17])
			assert.Equal(t, v.txPower, int8(sd[17]))
			assert.Equal(t, byte(v.flags), sd[18])
			assert.Equal(t, byte(0), sd[19])
			assert.False(t, w.Next())
			assert.NoError(t, w.Err())
		})
	}
}

// foreignVectors are adverts of other kinds, from their public
// specifications; each is walked field by field.
var foreignVectors = []struct {
	file  string
	check func(t *testing.T, s []Structure)
}{
	{"ibeacon.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 2)
		f, ok := s[0].Flags()
		require.True(t, ok)
		assert.Equal(t, LEGeneralDiscoverable|BREDRNotSupported, f)
		company, d, ok := s[1].Manufacturer()
		require.True(t, ok)
		assert.Equal(t, uint16(0x004C), company)
		require.Len(t, d, 23)
		assert.Equal(t, byte(0x02), d[0], "iBeacon type")
		assert.Equal(t, byte(0x15), d[1], "iBeacon length")
		assert.Equal(t, "e2c56db5dffb48d2b060d0f5a71096e0", hex.EncodeToString(d[2:18]))
		assert.Equal(t, uint16(1), binary.BigEndian.Uint16(d[18:]), "major")
		assert.Equal(t, uint16(2), binary.BigEndian.Uint16(d[20:]), "minor")
		assert.Equal(t, int8(-59), int8(d[22]), "measured power")
	}},
	{"eddystone_uid.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 3)
		assert.True(t, s[1].HasUUID16(0xFEAA))
		uuid, d, ok := s[2].ServiceData16()
		require.True(t, ok)
		assert.Equal(t, uint16(0xFEAA), uuid)
		require.Len(t, d, 20)
		assert.Equal(t, byte(0x00), d[0], "frame type UID")
		assert.Equal(t, int8(-20), int8(d[1]), "ranging data")
		assert.Equal(t, "8b0ca750095477cb3e77", hex.EncodeToString(d[2:12]), "namespace")
		assert.Equal(t, "000000000001", hex.EncodeToString(d[12:18]), "instance")
		assert.Equal(t, []byte{0, 0}, d[18:], "RFU")
	}},
	{"eddystone_url.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 3)
		n, ok := s[1].UUID16Count()
		require.True(t, ok)
		assert.Equal(t, 1, n)
		u, ok := s[1].UUID16(0)
		require.True(t, ok)
		assert.Equal(t, uint16(0xFEAA), u)
		uuid, d, ok := s[2].ServiceData16()
		require.True(t, ok)
		assert.Equal(t, uint16(0xFEAA), uuid)
		assert.Equal(t, byte(0x10), d[0], "frame type URL")
		assert.Equal(t, int8(-18), int8(d[1]), "Tx power")
		assert.Equal(t, byte(0x03), d[2], "scheme https://")
		assert.Equal(t, "goo.gl/S6zT6P", string(d[3:]))
	}},
	{"eddystone_tlm.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 3)
		uuid, d, ok := s[2].ServiceData16()
		require.True(t, ok)
		assert.Equal(t, uint16(0xFEAA), uuid)
		require.Len(t, d, 14)
		assert.Equal(t, byte(0x20), d[0], "frame type TLM")
		assert.Equal(t, byte(0x00), d[1], "TLM version")
		assert.Equal(t, uint16(3000), binary.BigEndian.Uint16(d[2:]), "battery mV")
		assert.Equal(t, 23.5, float64(int16(binary.BigEndian.Uint16(d[4:])))/256, "temperature")
		assert.Equal(t, uint32(100), binary.BigEndian.Uint32(d[6:]), "ADV_CNT")
		assert.Equal(t, uint32(10000), binary.BigEndian.Uint32(d[10:]), "SEC_CNT")
	}},
	{"exposure_notification.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 3)
		f, ok := s[0].Flags()
		require.True(t, ok)
		assert.Equal(t, byte(0x1A), f)
		assert.True(t, s[1].HasUUID16(0xFD6F))
		uuid, d, ok := s[2].ServiceData16()
		require.True(t, ok)
		assert.Equal(t, uint16(0xFD6F), uuid)
		require.Len(t, d, 20)
		assert.Equal(t, "3c8b0a61c44f2592ee1a709b5504d83e", hex.EncodeToString(d[:16]), "RPI")
		assert.Equal(t, "9127c50d", hex.EncodeToString(d[16:]), "AEM")
	}},
	{"scan_response.hex", func(t *testing.T, s []Structure) {
		require.Len(t, s, 3)
		name, complete, ok := s[0].LocalName()
		require.True(t, ok)
		assert.True(t, complete)
		assert.Equal(t, "CASIMPAY", name)
		p, ok := s[1].TxPower()
		require.True(t, ok)
		assert.Equal(t, int8(-12), p)
		company, d, ok := s[2].Manufacturer()
		require.True(t, ok)
		assert.Equal(t, uint16(0xFFFF), company)
		assert.Equal(t, []byte{1, 2}, d)
	}},
}

func TestForeignVectors(t *testing.T) {
	for _, v := range foreignVectors {
		t.Run(v.file, func(t *testing.T) {
			b := readHex(t, v.file)
			require.LessOrEqual(t, len(b), Size)
			var got []Structure
			w := NewWalker(b)
			for w.Next() {
				got = append(got, w.Structure())
			}
			require.NoError(t, w.Err())
			v.check(t, got)

			_, err := Parse(b)
			assert.ErrorIs(t, err, ErrForeign)
			assert.NotErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestForeignUnderTheirUUID parses the Exposure Notification advert with a
// codec configured for 0xFD6F: its service data is 20 octets like ours, and
// its first octet is no version 1, so it must be rejected, not mistaken.
func TestForeignUnderTheirUUID(t *testing.T) {
	b := readHex(t, "exposure_notification.hex")
	_, err := Codec{UUID: 0xFD6F}.Parse(b)
	assert.ErrorIs(t, err, ErrVersion)
}

func TestOurVectorsConcatenated(t *testing.T) {
	// A scan record that holds both the advert and a scan response.
	b := append(readHex(t, "casimpay_seller.hex"), readHex(t, "scan_response.hex")...)
	p, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, Seller, p.Role)
	assert.True(t, bytes.Equal(p.EID[:], readHex(t, "casimpay_seller.hex")[12:28]))
}
