package adv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary octets to Parse and the walker: neither may
// panic, every error is one of the documented ones, and whatever parses
// encodes back to an advert that parses to the same packet.
func FuzzParse(f *testing.F) {
	vectors, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	require.NoError(f, err)
	for _, v := range vectors {
		f.Add(readHex(f, filepath.Base(v)))
	}
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add([]byte{0x1f, 0x16, 0xff, 0xff})
	f.Add([]byte{0x03, 0x16, 0xff, 0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Plain checks keep this body cheap: it runs for every input the
		// fuzzer tries.
		keep := append([]byte(nil), b...)
		total := 0
		w := NewWalker(b)
		for w.Next() {
			s := w.Structure()
			total += 2 + len(s.Data)
			if end := w.Offset() + 2 + len(s.Data); end > len(b) {
				t.Fatalf("structure at %d ends at %d, past %d", w.Offset(), end, len(b))
			}
		}
		if total > len(b) {
			t.Fatalf("structures span %d octets of %d", total, len(b))
		}
		if w.Err() != nil && !errors.Is(w.Err(), ErrMalformed) {
			t.Fatalf("walker error %v does not match ErrMalformed", w.Err())
		}

		p, err := Parse(b)
		if !bytes.Equal(keep, b) {
			t.Fatal("Parse modified its input")
		}
		slowP, slowErr := Codec{}.parseWalk(b)
		if slowP != p || slowErr != err {
			t.Fatalf("fast path %v, %v; walk %v, %v", p, err, slowP, slowErr)
		}
		if err != nil {
			known := 0
			for _, e := range []error{ErrForeign, ErrMalformed, ErrVersion, ErrRole, ErrReserved} {
				if errors.Is(err, e) {
					known++
				}
			}
			if known != 1 {
				t.Fatalf("error %v matches %d sentinels", err, known)
			}
			if p != (Packet{}) {
				t.Fatalf("packet %v returned with error %v", p, err)
			}
			return
		}
		if !p.Role.Valid() {
			t.Fatalf("parsed an invalid role %v", p.Role)
		}
		p.Flags &= DefinedFlags
		enc, err := p.MarshalBinary()
		if err != nil || len(enc) != Size {
			t.Fatalf("MarshalBinary: %d octets, %v", len(enc), err)
		}
		again, err := Parse(enc)
		if err != nil || again != p {
			t.Fatalf("round trip: %v, %v; want %v", again, err, p)
		}
	})
}

// FuzzRoundTrip encodes arbitrary packet fields under arbitrary UUIDs and
// parses them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(Shopper), make([]byte, 16), int8(-8), uint8(0), uint16(0))
	f.Add(uint8(Seller), seq(0x40), int8(20), uint8(FlagBusy|FlagAssets), uint16(0xFD6F))
	f.Add(uint8(0), seq(0), int8(-127), uint8(0), uint16(0xFFFF))
	f.Add(uint8(Seller), seq(1), int8(0), uint8(0x80), uint16(1))
	f.Fuzz(func(t *testing.T, role uint8, eid []byte, tx int8, flags uint8, uuid uint16) {
		p := Packet{Role: Role(role), TxPower: tx, Flags: Flags(flags)}
		copy(p.EID[:], eid)
		c := Codec{UUID: uuid}
		b, err := c.AppendBinary(nil, p)
		switch {
		case !p.Role.Valid():
			require.ErrorIs(t, err, ErrRole)
			return
		case p.Flags&^DefinedFlags != 0:
			require.ErrorIs(t, err, ErrFlags)
			return
		}
		require.NoError(t, err)
		require.Len(t, b, Size)
		got, err := c.Parse(b)
		require.NoError(t, err)
		assert.Equal(t, p, got)
		if c.uuid() != DefaultUUID {
			_, err := Parse(b)
			assert.ErrorIs(t, err, ErrForeign)
		}
	})
}

// FuzzParseServiceData feeds arbitrary service data, as a phone's operating
// system hands it out, to ParseServiceData and checks it against Parse of
// the same octets wrapped in a service-data structure.
func FuzzParseServiceData(f *testing.F) {
	b := readHex(f, "casimpay_seller.hex")
	f.Add(b[11:])
	f.Add(b[11:30])
	f.Add([]byte{})
	f.Add([]byte{0x13})
	f.Add(readHex(f, "exposure_notification.hex")[11:])
	f.Fuzz(func(t *testing.T, sd []byte) {
		p, err := ParseServiceData(sd)
		if len(sd) > 250 {
			return // does not fit an AD structure
		}
		wrapped := append([]byte{byte(3 + len(sd)), TypeServiceData16, 0xff, 0xff}, sd...)
		q, werr := Parse(wrapped)
		require.Equal(t, q, p)
		require.Equal(t, werr, err)
		if err == nil {
			require.True(t, p.Role.Valid())
		} else {
			require.Equal(t, Packet{}, p)
		}
	})
}

// TestFuzzCorpus checks that the seed corpus in testdata/fuzz exists, so that
// `go test` runs it.
func TestFuzzCorpus(t *testing.T) {
	for _, name := range []string{"FuzzParse", "FuzzRoundTrip", "FuzzParseServiceData"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		require.NoError(t, err)
		assert.NotEmpty(t, entries, name)
	}
}
