package payflow

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
)

var testNonceKey = newNonceMAC(bytes.Repeat([]byte{0x4b}, nonceKeySize))

func TestNonce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(2 * time.Minute)
	n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
	require.NoError(t, err)
	require.Len(t, n, 32)

	got, err := openNonce(testNonceKey, n, now, alice, nil)
	require.NoError(t, err)
	assert.True(t, got.Equal(exp))

	_, err = openNonce(testNonceKey, n, exp, alice, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "expired at its expiry")
	_, err = openNonce(newNonceMAC(bytes.Repeat([]byte{1}, nonceKeySize)), n, now, alice, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "another platform's key")
	for i := range n {
		bad := bytes.Clone(n)
		bad[i] ^= 0x80
		_, err = openNonce(testNonceKey, bad, now, alice, nil)
		assert.ErrorIs(t, err, pki.ErrNonce, "byte %d changed", i)
	}
	_, err = openNonce(testNonceKey, n[:31], now, alice, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "short")
	_, err = openNonce(testNonceKey, make([]byte, 32), now, alice, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "zeros")

	m, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
	require.NoError(t, err)
	assert.NotEqual(t, n, m, "two nonces of one expiry differ")

	req := bytes.Repeat([]byte{7}, 16)
	c, err := mintNonce(testNonceKey, rand.Reader, exp, alice, req)
	require.NoError(t, err)
	_, err = openNonce(testNonceKey, c, now, alice, req)
	require.NoError(t, err)
	_, err = openNonce(testNonceKey, c, now, alice, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "a consent nonce is no challenge")
	_, err = openNonce(testNonceKey, c, now, alice, bytes.Repeat([]byte{8}, 16))
	assert.ErrorIs(t, err, pki.ErrNonce, "a consent nonce of another request")
	_, err = openNonce(testNonceKey, n, now, alice, req)
	assert.ErrorIs(t, err, pki.ErrNonce, "a challenge is no consent nonce")

	_, err = openNonce(testNonceKey, n, now, bob, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "a challenge of another card")
	_, err = openNonce(testNonceKey, c, now, bob, req)
	assert.ErrorIs(t, err, pki.ErrNonce, "a consent nonce of another card")
	// The lengths keep card ID and request ID apart: a nonce bound to a
	// card ID and a request ID is none bound to their octets split
	// otherwise.
	_, err = openNonce(testNonceKey, c, now, alice+string(req[:1]), req[1:])
	assert.ErrorIs(t, err, pki.ErrNonce, "the card ID and request ID split otherwise")
	// The card ID's length keeps it apart from the request ID's length
	// and octets: a request ID whose first octet is its length less one
	// would otherwise read as a card ID one octet longer (its length) and
	// a request ID one octet shorter.
	split := append([]byte{15}, bytes.Repeat([]byte{7}, 15)...)
	s, err := mintNonce(testNonceKey, rand.Reader, exp, alice, split)
	require.NoError(t, err)
	_, err = openNonce(testNonceKey, s, now, alice+"\x10", split[1:])
	assert.ErrorIs(t, err, pki.ErrNonce, "the card ID one octet longer, the request ID one shorter")
	// One octet holds a length of maxNonceBound: a card ID and a request
	// ID that long are bound, and nothing longer is.
	longest := bytes.Repeat([]byte{7}, maxNonceBound)
	b, err := mintNonce(testNonceKey, rand.Reader, exp, string(longest), longest)
	require.NoError(t, err, "a card ID and request ID of maxNonceBound octets")
	_, err = openNonce(testNonceKey, b, now, string(longest), longest)
	require.NoError(t, err, "a card ID and request ID of maxNonceBound octets")
	long := bytes.Repeat([]byte{7}, maxNonceBound+1)
	_, err = mintNonce(testNonceKey, rand.Reader, exp, alice, long)
	assert.Error(t, err, "a request ID longer than one octet counts")
	_, err = mintNonce(testNonceKey, rand.Reader, exp, string(long), nil)
	assert.Error(t, err, "a card ID longer than one octet counts")
	_, err = openNonce(testNonceKey, c, now, alice, long)
	assert.ErrorIs(t, err, pki.ErrNonce, "a request ID longer than one octet counts")
}

// Card IDs of the nonce tests.
const (
	alice = "8944500102198304826"
	bob   = "89445001021983048260"
)

// FuzzOpenNonce: openNonce never panics, and accepts only what mintNonce
// would have made with the same key, card ID and request ID: the same
// bytes, unexpired at now.
func FuzzOpenNonce(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	valid, _ := mintNonce(testNonceKey, rand.Reader, now.Add(time.Minute), alice, nil)
	f.Add(valid, now.UnixNano(), alice, []byte(nil))
	f.Add(valid, now.UnixNano(), bob, []byte(nil))
	f.Add(valid, now.Add(time.Minute).UnixNano(), alice, []byte(nil))
	f.Add(valid[:16], now.UnixNano(), alice, []byte(nil))
	f.Add([]byte{}, int64(0), "", make([]byte, 16))
	f.Fuzz(func(t *testing.T, n []byte, at int64, cardID string, requestID []byte) {
		exp, err := openNonce(testNonceKey, n, time.Unix(0, at), cardID, requestID)
		if err != nil {
			return
		}
		if len(n) != 32 || exp.UnixNano() <= at {
			t.Fatalf("accepted %x at %d, expiring %v", n, at, exp)
		}
		var again [32]byte
		binary.BigEndian.PutUint64(again[:8], uint64(exp.UnixNano()))
		copy(again[8:16], n[8:16])
		nonceTag(testNonceKey, again[16:], again[:], cardID, requestID)
		if !bytes.Equal(again[:], n) {
			t.Fatalf("accepted %x, which mintNonce makes as %x", n, again)
		}
	})
}

// TestNonceAllocations: minting a nonce allocates the nonce alone, and
// opening one nothing.
func TestNonceAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under the race detector")
	}
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(2 * time.Minute)
	req := bytes.Repeat([]byte{7}, 16)
	n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, req)
	require.NoError(t, err)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		if _, err := mintNonce(testNonceKey, rand.Reader, exp, alice, req); err != nil {
			t.Fatal(err)
		}
	}), "mint")
	assert.Equal(t, 0.0, testing.AllocsPerRun(100, func() {
		if _, err := openNonce(testNonceKey, n, now, alice, req); err != nil {
			t.Fatal(err)
		}
	}), "open")
}

// BenchmarkNonce: minting a consent nonce and opening it, as each
// purchase does, allocates only the nonce.
func BenchmarkNonce(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(2 * time.Minute)
	req := bytes.Repeat([]byte{7}, 16)
	b.ReportAllocs()
	for b.Loop() {
		n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := openNonce(testNonceKey, n, now, alice, req); err != nil {
			b.Fatal(err)
		}
	}
}
