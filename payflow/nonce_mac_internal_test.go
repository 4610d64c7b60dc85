package payflow

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNonceLayout: a nonce is its expiry in Unix nanoseconds, big-endian,
// 8 random octets and the first 16 octets of HMAC-SHA256 under the nonce
// key of "CASIM-NONCE", those 16 octets, and the card ID and request ID
// each after its length in one octet, as documented, so that a platform
// of another build checks the nonces of this one.
func TestNonceLayout(t *testing.T) {
	key := bytes.Repeat([]byte{0x4b}, nonceKeySize)
	exp := time.Unix(1_800_000_000, 5)
	for _, req := range [][]byte{nil, bytes.Repeat([]byte{0x52}, 16)} {
		n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, req)
		require.NoError(t, err)
		require.Len(t, n, 32)
		assert.Equal(t, uint64(exp.UnixNano()), binary.BigEndian.Uint64(n[:8]), "the expiry")

		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("CASIM-NONCE"))
		mac.Write(n[:16])
		mac.Write([]byte{byte(len(alice))})
		mac.Write([]byte(alice))
		mac.Write([]byte{byte(len(req))})
		mac.Write(req)
		assert.Equal(t, mac.Sum(nil)[:16], n[16:], "the tag, request ID %x", req)
	}
}

// TestNonceKeyIsCopied: the nonces of a platform are under the nonce key
// it was given, even if the slice that held it is written afterwards.
func TestNonceKeyIsCopied(t *testing.T) {
	key := bytes.Repeat([]byte{0x4b}, nonceKeySize)
	k := newNonceMAC(key)
	clear(key)
	exp := time.Unix(1_800_000_000, 0)
	n, err := mintNonce(k, rand.Reader, exp, alice, nil)
	require.NoError(t, err)
	got, err := openNonce(testNonceKey, n, exp.Add(-time.Second), alice, nil)
	require.NoError(t, err, "opened under the key as given")
	assert.Equal(t, exp, got)
}
