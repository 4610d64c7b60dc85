package ledger_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func TestIDFromUint64s(t *testing.T) {
	id := ledger.IDFromUint64s(0x0102030405060708, 0x090a0b0c0d0e0f10)
	assert.Equal(t, ledger.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, id)
	hi, lo := id.Uint64s()
	assert.Equal(t, uint64(0x0102030405060708), hi)
	assert.Equal(t, uint64(0x090a0b0c0d0e0f10), lo)
	assert.Equal(t, "0102030405060708090a0b0c0d0e0f10", id.String())
	assert.Equal(t, ledger.IDFromUint64s(0, 7), ledger.IDFromUint64(7))
}

func TestIDValidity(t *testing.T) {
	tests := []struct {
		id          ledger.ID
		zero, valid bool
	}{
		{ledger.ID{}, true, false},
		{ledger.IDMax, false, false},
		{ledger.IDFromUint64(1), false, true},
		{ledger.IDFromUint64s(^uint64(0), ^uint64(0)-1), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			assert.Equal(t, tt.zero, tt.id.IsZero())
			assert.Equal(t, tt.valid, tt.id.Valid())
		})
	}
}

func TestIDCompareIsByteOrder(t *testing.T) {
	ids := []ledger.ID{
		{}, ledger.IDFromUint64(1), ledger.IDFromUint64(256), ledger.IDFromUint64s(1, 0),
		ledger.IDFromUint64s(1, ^uint64(0)), ledger.IDFromUint64s(1<<63, 0), ledger.IDMax,
	}
	for i, a := range ids {
		for j, b := range ids {
			want := bytes.Compare(a[:], b[:])
			assert.Equal(t, want, a.Compare(b), "%v vs %v", a, b)
			switch {
			case i < j:
				assert.Equal(t, -1, want)
			case i > j:
				assert.Equal(t, 1, want)
			}
		}
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want ledger.ID
		err  bool
	}{
		{"0102030405060708090a0b0c0d0e0f10", ledger.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false},
		{"0102030405060708090A0B0C0D0E0F10", ledger.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false},
		{"00000000000000000000000000000000", ledger.ID{}, false},
		{"", ledger.ID{}, true},
		{"0102", ledger.ID{}, true},
		{"0102030405060708090a0b0c0d0e0f1", ledger.ID{}, true},
		{"0102030405060708090a0b0c0d0e0f100", ledger.ID{}, true},
		{"0102030405060708090a0b0c0d0e0fzz", ledger.ID{}, true},
		{" 102030405060708090a0b0c0d0e0f10", ledger.ID{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ledger.ParseID(tt.in)
			if tt.err {
				require.ErrorIs(t, err, ledger.ErrBadID)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestIDFromBytes(t *testing.T) {
	_, err := ledger.IDFromBytes(make([]byte, 15))
	require.ErrorIs(t, err, ledger.ErrBadID)
	_, err = ledger.IDFromBytes(make([]byte, 17))
	require.ErrorIs(t, err, ledger.ErrBadID)
	id, err := ledger.IDFromBytes(bytes.Repeat([]byte{0xab}, 16))
	require.NoError(t, err)
	assert.Equal(t, "abababababababababababababababab", id.String())

	var back ledger.ID
	b, err := id.MarshalBinary()
	require.NoError(t, err)
	require.NoError(t, back.UnmarshalBinary(b))
	assert.Equal(t, id, back)
	require.ErrorIs(t, back.UnmarshalBinary([]byte{1}), ledger.ErrBadID)
}

func TestIDJSON(t *testing.T) {
	in := struct{ ID ledger.ID }{ledger.IDFromUint64(42)}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Equal(t, `{"ID":"0000000000000000000000000000002a"}`, string(b))
	var out struct{ ID ledger.ID }
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	require.ErrorIs(t, json.Unmarshal([]byte(`{"ID":"2a"}`), &out), ledger.ErrBadID)
}

func TestNewIDIsTimeOrderedAndValid(t *testing.T) {
	prev := ledger.NewID()
	for range 10_000 {
		id := ledger.NewID()
		require.True(t, id.Valid())
		require.Equal(t, 1, id.Compare(prev), "%v after %v", id, prev)
		prev = id
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("0102030405060708090a0b0c0d0e0f10")
	f.Add("ffffffffffffffffffffffffffffffff")
	f.Add("0102030405060708090a0b0c0d0e0fzz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ledger.ParseID(s)
		if err != nil {
			require.ErrorIs(t, err, ledger.ErrBadID)
			return
		}
		// Every accepted text is 32 hex digits and round-trips.
		require.Len(t, s, 32)
		again, err := ledger.ParseID(id.String())
		require.NoError(t, err)
		require.Equal(t, id, again)
		var viaText ledger.ID
		require.NoError(t, viaText.UnmarshalText([]byte(s)))
		require.Equal(t, id, viaText)
	})
}

func FuzzIDFromBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 16))
	f.Add(bytes.Repeat([]byte{1}, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ledger.IDFromBytes(b)
		if len(b) != 16 {
			require.ErrorIs(t, err, ledger.ErrBadID)
			return
		}
		require.NoError(t, err)
		require.Equal(t, b, id[:])
		var back ledger.ID
		require.NoError(t, back.UnmarshalBinary(b))
		require.Equal(t, id, back)
		hi, lo := id.Uint64s()
		require.Equal(t, id, ledger.IDFromUint64s(hi, lo))
	})
}
