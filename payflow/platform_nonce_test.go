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
	n, err := mintNonce(testNonceKey, rand.Reader, exp, nil)
	require.NoError(t, err)
	require.Len(t, n, 32)

	got, err := openNonce(testNonceKey, n, now, nil)
	require.NoError(t, err)
	assert.True(t, got.Equal(exp))

	_, err = openNonce(testNonceKey, n, exp, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "expired at its expiry")
	_, err = openNonce(newNonceMAC(bytes.Repeat([]byte{1}, nonceKeySize)), n, now, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "another platform's key")
	for i := range n {
		bad := bytes.Clone(n)
		bad[i] ^= 0x80
		_, err = openNonce(testNonceKey, bad, now, nil)
		assert.ErrorIs(t, err, pki.ErrNonce, "byte %d changed", i)
	}
	_, err = openNonce(testNonceKey, n[:31], now, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "short")
	_, err = openNonce(testNonceKey, make([]byte, 32), now, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "zeros")

	m, err := mintNonce(testNonceKey, rand.Reader, exp, nil)
	require.NoError(t, err)
	assert.NotEqual(t, n, m, "two nonces of one expiry differ")

	req := bytes.Repeat([]byte{7}, 16)
	c, err := mintNonce(testNonceKey, rand.Reader, exp, req)
	require.NoError(t, err)
	_, err = openNonce(testNonceKey, c, now, req)
	require.NoError(t, err)
	_, err = openNonce(testNonceKey, c, now, nil)
	assert.ErrorIs(t, err, pki.ErrNonce, "a consent nonce is no challenge")
	_, err = openNonce(testNonceKey, c, now, bytes.Repeat([]byte{8}, 16))
	assert.ErrorIs(t, err, pki.ErrNonce, "a consent nonce of another request")
	_, err = openNonce(testNonceKey, n, now, req)
	assert.ErrorIs(t, err, pki.ErrNonce, "a challenge is no consent nonce")
}

// FuzzOpenNonce: openNonce never panics, and accepts only what mintNonce
// would have made with the same key and request ID: the same bytes,
// unexpired at now.
func FuzzOpenNonce(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	valid, _ := mintNonce(testNonceKey, rand.Reader, now.Add(time.Minute), nil)
	f.Add(valid, now.UnixNano(), []byte(nil))
	f.Add(valid, now.Add(time.Minute).UnixNano(), []byte(nil))
	f.Add(valid[:16], now.UnixNano(), []byte(nil))
	f.Add([]byte{}, int64(0), make([]byte, 16))
	f.Fuzz(func(t *testing.T, n []byte, at int64, requestID []byte) {
		exp, err := openNonce(testNonceKey, n, time.Unix(0, at), requestID)
		if err != nil {
			return
		}
		if len(n) != 32 || exp.UnixNano() <= at {
			t.Fatalf("accepted %x at %d, expiring %v", n, at, exp)
		}
		var again [32]byte
		binary.BigEndian.PutUint64(again[:8], uint64(exp.UnixNano()))
		copy(again[8:16], n[8:16])
		copy(again[16:], nonceTag(testNonceKey, again[:], requestID))
		if !bytes.Equal(again[:], n) {
			t.Fatalf("accepted %x, which mintNonce makes as %x", n, again)
		}
	})
}
