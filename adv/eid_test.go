package adv

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEpoch(t *testing.T) {
	tests := []struct {
		t    time.Time
		want uint32
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(599, 999_999_999), 0},
		{time.Unix(600, 0), 1},
		{time.Unix(-1, 0), 0},
		{time.Unix(-6000, 0), 0},
		{exampleTime, 2945376},
		{exampleTime.Add(599 * time.Second), 2945376},
		{exampleTime.Add(600 * time.Second), 2945377},
		{exampleTime.In(time.FixedZone("UTC+8", 8*3600)), 2945376},
		// The last epoch goes on past its ten minutes: epochs do not wrap
		// round to 0.
		{EpochStart(math.MaxUint32), math.MaxUint32},
		{time.Unix(EpochSeconds<<32, 0), math.MaxUint32},
		{time.Unix(math.MaxInt64, 0), math.MaxUint32},
	}
	for _, tt := range tests {
		t.Run(tt.t.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, Epoch(tt.t))
		})
	}
	assert.True(t, EpochStart(2945376).Equal(exampleTime))
	assert.Equal(t, uint32(2945377), Epoch(EpochStart(2945377)))
}

// TestDeriveEIDIndependently recomputes an EID with crypto/aes directly from
// the EIDK that OpenSSL's HKDF gives for the worked-example secret
// (`openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt
// hexkey:000102030405060708090a0b0c0d0e0f -kdfopt info:CASIM-EIDK HKDF`).
func TestDeriveEIDIndependently(t *testing.T) {
	eidk, err := hex.DecodeString("cd808c98f45848088ee6fef62dc49060")
	require.NoError(t, err)
	block, err := aes.NewCipher(eidk)
	require.NoError(t, err)
	for _, epoch := range []uint32{0, 1, 2945376, 0xffffffff} {
		var in, want [16]byte
		copy(in[:], "CASIM-EID\x00\x00\x00")
		binary.LittleEndian.PutUint32(in[12:], epoch)
		block.Encrypt(want[:], in[:])
		got, err := DeriveEID(seq(0), epoch)
		require.NoError(t, err)
		assert.Equal(t, EID(want), got, "epoch %d", epoch)
	}
}

func TestEIDKey(t *testing.T) {
	k, err := NewEIDKey(seq(0x10))
	require.NoError(t, err)
	seen := make(map[EID]uint32)
	for e := uint32(2945370); e < 2945400; e++ {
		eid := k.EID(e)
		d, err := DeriveEID(seq(0x10), e)
		require.NoError(t, err)
		assert.Equal(t, d, eid)
		prev, dup := seen[eid]
		assert.False(t, dup, "epochs %d and %d share an EID", prev, e)
		seen[eid] = e
	}
	other, err := NewEIDKey(seq(0x11))
	require.NoError(t, err)
	assert.NotEqual(t, k.EID(5), other.EID(5))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = k.EID(7) }))
}

// TestEIDOfNoKey: EID of a nil or zero EIDKey, which only a program's
// error makes (NewEIDKey makes every usable key), panics with a message
// that says so, not with a nil dereference.
func TestEIDOfNoKey(t *testing.T) {
	for name, k := range map[string]*EIDKey{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			assert.PanicsWithValue(t, "adv: EID of a nil or zero EIDKey (make one with NewEIDKey)", func() { k.EID(1) })
		})
	}
}

func TestSecretSize(t *testing.T) {
	for _, n := range []int{0, 1, 15, 17, 32} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, err := NewEIDKey(make([]byte, n))
			assert.ErrorIs(t, err, ErrSecret)
			_, err = DeriveEID(make([]byte, n), 1)
			assert.ErrorIs(t, err, ErrSecret)
		})
	}
}

func TestPairingCode(t *testing.T) {
	a, err := DeriveEID(seq(0x00), 2945376)
	require.NoError(t, err)
	b, err := DeriveEID(seq(0x10), 2945376)
	require.NoError(t, err)
	assert.Equal(t, "211043", PairingCode(a, b))
	assert.Equal(t, "211043", PairingCode(b, a))

	// The formula, computed separately.
	lo, hi := a, b
	if hex.EncodeToString(lo[:]) > hex.EncodeToString(hi[:]) {
		lo, hi = hi, lo
	}
	h := sha256.Sum256(append(append([]byte("CASIM-PAIR"), lo[:]...), hi[:]...))
	assert.Equal(t, fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[:4])%1_000_000), PairingCode(a, b))

	// A different counterparty gives a different code; codes always have
	// six digits, leading zeros included.
	c, err := DeriveEID(seq(0x20), 2945376)
	require.NoError(t, err)
	assert.NotEqual(t, PairingCode(a, b), PairingCode(a, c))
	sawLeadingZero := false
	for i := range 2000 {
		var x, y EID
		binary.BigEndian.PutUint64(x[:], uint64(i))
		binary.BigEndian.PutUint64(y[8:], uint64(i*7+1))
		code := PairingCode(x, y)
		require.Len(t, code, 6)
		for _, ch := range code {
			require.True(t, ch >= '0' && ch <= '9', code)
		}
		require.Equal(t, code, PairingCode(y, x))
		sawLeadingZero = sawLeadingZero || code[0] == '0'
	}
	assert.True(t, sawLeadingZero, "2000 codes without a leading zero: zero padding is untested")
	assert.Len(t, PairingCode(a, a), 6)
}
