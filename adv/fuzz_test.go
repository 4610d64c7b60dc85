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
// panic, every error is one of the documented ones, every accessor of each
// structure walked answers as its type and data say (checkAccessors), and
// whatever parses encodes back to an advert that parses to the same packet.
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
			end := w.Offset() + 2 + len(s.Data)
			if end > len(b) {
				t.Fatalf("structure at %d ends at %d, past %d", w.Offset(), end, len(b))
			}
			checkAccessors(t, b, w.Offset(), s)
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

// checkAccessors calls every accessor of s, the structure whose Length
// octet is b[at], and checks what each returns against s's type and data:
// the slices returned must be the structure's own octets in b, which
// appending to cannot overwrite the octets after the structure. Plain
// checks, for FuzzParse.
func checkAccessors(t *testing.T, b []byte, at int, s Structure) {
	t.Helper()
	end := at + 2 + len(s.Data)
	inside := func(what string, d []byte, start int) {
		t.Helper()
		if len(d) != end-start || cap(d) != len(d) {
			t.Fatalf("%s of the structure at %d: %d octets, capacity %d; want b[%d:%d]", what, at, len(d), cap(d), start, end)
		}
		if len(d) > 0 && &d[0] != &b[start] {
			t.Fatalf("%s of the structure at %d is not b[%d:%d]", what, at, start, end)
		}
	}
	inside("Data", s.Data, at+2)

	flags, ok := s.Flags()
	if want := s.Type == TypeFlags && len(s.Data) > 0; ok != want || ok && flags != s.Data[0] {
		t.Fatalf("Flags of type %#x, %d octets: %#x, %v", s.Type, len(s.Data), flags, ok)
	}

	isList := s.Type == TypeIncompleteUUID16 || s.Type == TypeCompleteUUID16 || s.Type == TypeSolicitUUID16
	n, ok := s.UUID16Count()
	if want := isList && len(s.Data)%2 == 0; ok != want || n != len(s.Data)/2 && ok || n != 0 && !ok {
		t.Fatalf("UUID16Count of type %#x, %d octets: %d, %v", s.Type, len(s.Data), n, ok)
	}
	for _, i := range []int{-1, n} {
		if u, ok := s.UUID16(i); ok || u != 0 {
			t.Fatalf("UUID16(%d) of %d UUIDs: %#x, %v", i, n, u, ok)
		}
	}
	for i := range n {
		u, ok := s.UUID16(i)
		if !ok || u != uint16(s.Data[2*i])|uint16(s.Data[2*i+1])<<8 {
			t.Fatalf("UUID16(%d) of the structure at %d: %#x, %v", i, at, u, ok)
		}
		if !s.HasUUID16(u) {
			t.Fatalf("HasUUID16(%#x) false for the UUID at %d of the structure at %d", u, i, at)
		}
	}
	if n == 0 && s.HasUUID16(uint16(len(b))) {
		t.Fatalf("HasUUID16 true for type %#x, %d octets, without a UUID", s.Type, len(s.Data))
	}

	// The two accessors of a 16-bit identifier (little-endian) and the
	// octets after it.
	for _, a := range []struct {
		name string
		typ  byte
		get  func() (uint16, []byte, bool)
	}{{"ServiceData16", TypeServiceData16, s.ServiceData16}, {"Manufacturer", TypeManufacturer, s.Manufacturer}} {
		id, data, ok := a.get()
		if want := s.Type == a.typ && len(s.Data) >= 2; ok != want {
			t.Fatalf("%s of type %#x, %d octets: %v", a.name, s.Type, len(s.Data), ok)
		}
		if ok {
			if id != le16(s.Data) {
				t.Fatalf("%s identifier %#x of the structure at %d", a.name, id, at)
			}
			inside(a.name, data, at+4)
		} else if id != 0 || data != nil {
			t.Fatalf("%s not ok but returned %#x, %d octets", a.name, id, len(data))
		}
	}

	tx, ok := s.TxPower()
	if want := s.Type == TypeTxPower && len(s.Data) == 1; ok != want || ok && tx != int8(s.Data[0]) || !ok && tx != 0 {
		t.Fatalf("TxPower of type %#x, %d octets: %d, %v", s.Type, len(s.Data), tx, ok)
	}

	name, complete, ok := s.LocalName()
	isName := s.Type == TypeShortName || s.Type == TypeCompleteName
	if ok != isName || complete != (s.Type == TypeCompleteName) || name != string(s.Data) && ok || name != "" && !ok {
		t.Fatalf("LocalName of type %#x: %q, %v, %v", s.Type, name, complete, ok)
	}
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
