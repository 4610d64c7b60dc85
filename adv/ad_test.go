package adv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func walk(b []byte) ([]Structure, []int, error) {
	var s []Structure
	var offs []int
	w := NewWalker(b)
	for w.Next() {
		s = append(s, w.Structure())
		offs = append(offs, w.Offset())
	}
	return s, offs, w.Err()
}

func TestWalker(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []Structure
		offsets []int
		err     error
	}{
		{"nil", nil, nil, nil, nil},
		{"terminator", []byte{0, 0x02, 0x01}, nil, nil, nil},
		{"type only", []byte{0x01, 0x09}, []Structure{{0x09, []byte{}}}, []int{0}, nil},
		{
			"two then padding",
			[]byte{0x02, 0x01, 0x06, 0x03, 0xff, 0x4c, 0x00, 0x00, 0x00},
			[]Structure{{TypeFlags, []byte{0x06}}, {TypeManufacturer, []byte{0x4c, 0x00}}},
			[]int{0, 3}, nil,
		},
		{
			"junk after terminator is ignored",
			[]byte{0x02, 0x01, 0x06, 0x00, 0xff, 0xff},
			[]Structure{{TypeFlags, []byte{0x06}}},
			[]int{0}, nil,
		},
		{
			"length past the end after a good one",
			[]byte{0x02, 0x01, 0x06, 0x1f, 0xff},
			[]Structure{{TypeFlags, []byte{0x06}}},
			[]int{0}, ErrMalformed,
		},
		{"length 255", []byte{0xff, 0x01}, nil, nil, ErrMalformed},
		{"length alone", []byte{0x05}, nil, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, offs, err := walk(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.offsets, offs)
			if tt.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.err)
			}
		})
	}
}

func TestWalkerStaysStopped(t *testing.T) {
	w := NewWalker([]byte{0x09})
	assert.False(t, w.Next())
	assert.ErrorIs(t, w.Err(), ErrMalformed)
	assert.False(t, w.Next())
	assert.Equal(t, Structure{}, w.Structure())

	var zero Walker
	assert.False(t, zero.Next())
	assert.NoError(t, zero.Err())
}

func TestWalkerDataIsCapped(t *testing.T) {
	b := []byte{0x02, 0x01, 0x06, 0x02, 0x0a, 0x00}
	w := NewWalker(b)
	require.True(t, w.Next())
	d := w.Structure().Data
	_ = append(d, 0x77)
	assert.Equal(t, byte(0x02), b[3], "appending to Data must not overwrite the next structure")
}

func TestStructureHelpers(t *testing.T) {
	flags := Structure{TypeFlags, []byte{0x1a, 0x00}}
	f, ok := flags.Flags()
	assert.True(t, ok)
	assert.Equal(t, byte(0x1a), f)
	_, ok = Structure{TypeFlags, nil}.Flags()
	assert.False(t, ok)
	_, ok = Structure{TypeTxPower, []byte{1}}.Flags()
	assert.False(t, ok)

	list := Structure{TypeIncompleteUUID16, []byte{0x0f, 0x18, 0x6f, 0xfd}}
	n, ok := list.UUID16Count()
	assert.True(t, ok)
	assert.Equal(t, 2, n)
	u, ok := list.UUID16(0)
	assert.True(t, ok)
	assert.Equal(t, uint16(0x180f), u)
	u, ok = list.UUID16(1)
	assert.True(t, ok)
	assert.Equal(t, uint16(0xfd6f), u)
	_, ok = list.UUID16(2)
	assert.False(t, ok)
	_, ok = list.UUID16(-1)
	assert.False(t, ok)
	assert.True(t, list.HasUUID16(0xfd6f))
	assert.False(t, list.HasUUID16(0x6ffd))
	_, ok = Structure{TypeCompleteUUID16, []byte{1, 2, 3}}.UUID16Count()
	assert.False(t, ok, "odd length")
	assert.False(t, Structure{TypeCompleteUUID16, []byte{1, 2, 3}}.HasUUID16(0x0201))
	sol := Structure{TypeSolicitUUID16, []byte{0xaa, 0xfe}}
	assert.True(t, sol.HasUUID16(0xfeaa))
	assert.False(t, Structure{TypeServiceData16, []byte{0xaa, 0xfe}}.HasUUID16(0xfeaa))

	uuid, data, ok := Structure{TypeServiceData16, []byte{0xaa, 0xfe, 0x10}}.ServiceData16()
	assert.True(t, ok)
	assert.Equal(t, uint16(0xfeaa), uuid)
	assert.Equal(t, []byte{0x10}, data)
	_, _, ok = Structure{TypeServiceData16, []byte{0xaa}}.ServiceData16()
	assert.False(t, ok)
	_, _, ok = Structure{TypeServiceData32, []byte{0xaa, 0xfe, 0, 0}}.ServiceData16()
	assert.False(t, ok)

	company, data, ok := Structure{TypeManufacturer, []byte{0x4c, 0x00}}.Manufacturer()
	assert.True(t, ok)
	assert.Equal(t, uint16(0x004c), company)
	assert.Empty(t, data)
	_, _, ok = Structure{TypeManufacturer, []byte{0x4c}}.Manufacturer()
	assert.False(t, ok)

	p, ok := Structure{TypeTxPower, []byte{0x81}}.TxPower()
	assert.True(t, ok)
	assert.Equal(t, int8(-127), p)
	_, ok = Structure{TypeTxPower, []byte{1, 2}}.TxPower()
	assert.False(t, ok)

	name, complete, ok := Structure{TypeShortName, []byte("CAS")}.LocalName()
	assert.True(t, ok)
	assert.False(t, complete)
	assert.Equal(t, "CAS", name)
	_, _, ok = Structure{TypeManufacturer, []byte("CAS")}.LocalName()
	assert.False(t, ok)
}

// TestWalkerStructureAfterTheEnd: once Next has returned false, Structure
// is the zero Structure, not the last one walked, whichever way the walk
// ended: at the end of the data, at a zero Length octet, or at a Length
// past the end.
func TestWalkerStructureAfterTheEnd(t *testing.T) {
	for name, b := range map[string][]byte{
		"end of the data": {0x02, 0x01, 0x06},
		"zero length":     {0x02, 0x01, 0x06, 0x00, 0x02, 0x01, 0x06},
		"past the end":    {0x02, 0x01, 0x06, 0x05, 0xff},
	} {
		w := NewWalker(b)
		require.True(t, w.Next(), name)
		assert.Equal(t, Structure{TypeFlags, []byte{0x06}}, w.Structure(), name)
		assert.False(t, w.Next(), name)
		assert.Equal(t, Structure{}, w.Structure(), name)
	}
}

// TestADTypesAssignedNumbers pins the AD types and the bits of the Flags
// AD type to the values the Bluetooth SIG's "Assigned Numbers" document
// gives them, which the air uses: the other tests use the constants, and
// a wrong one among those they do not write would go unseen.
func TestADTypesAssignedNumbers(t *testing.T) {
	assert.Equal(t, []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x14, 0x16, 0x20, 0x21, 0xff}, []byte{
		TypeFlags, TypeIncompleteUUID16, TypeCompleteUUID16, TypeIncompleteUUID32, TypeCompleteUUID32,
		TypeIncompleteUUID128, TypeCompleteUUID128, TypeShortName, TypeCompleteName, TypeTxPower,
		TypeSolicitUUID16, TypeServiceData16, TypeServiceData32, TypeServiceData128, TypeManufacturer,
	})
	assert.Equal(t, []byte{0x01, 0x02, 0x04, 0x08, 0x10}, []byte{
		LELimitedDiscoverable, LEGeneralDiscoverable, BREDRNotSupported, DualModeController, DualModeHost,
	})
}
