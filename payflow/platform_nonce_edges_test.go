package payflow

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
)

// nonceFormRefusal is the message of a nonce refused as none of this
// platform's for the card and request given.
var nonceFormRefusal = pki.ErrNonce.Error() + ": " + errNonceForm.Error()

// TestNonceBoundOf255Octets: a nonce is bound to a card ID and a request
// ID of up to 255 octets, the most that the one octet of each length in
// the MAC's input holds, and to none longer: minting one for 256 octets
// is refused with the lengths, opening one is refused as no nonce of this
// platform.
func TestNonceBoundOf255Octets(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Minute)
	longest := bytes.Repeat([]byte{7}, 255)
	n, err := mintNonce(testNonceKey, rand.Reader, exp, string(longest), longest)
	require.NoError(t, err)
	got, err := openNonce(testNonceKey, n, now, string(longest), longest)
	require.NoError(t, err)
	assert.True(t, got.Equal(exp), "%v", got)

	long := bytes.Repeat([]byte{7}, 256)
	for _, tc := range []struct {
		cardID    string
		requestID []byte
		msg       string
	}{
		{string(long), nil, "payflow: a nonce bound to a card ID of 256 octets and a request ID of 0"},
		{alice, long, "payflow: a nonce bound to a card ID of 19 octets and a request ID of 256"},
	} {
		m, err := mintNonce(testNonceKey, rand.Reader, exp, tc.cardID, tc.requestID)
		assert.EqualError(t, err, tc.msg)
		assert.Nil(t, m)
		got, err := openNonce(testNonceKey, n, now, tc.cardID, tc.requestID)
		assert.EqualError(t, err, nonceFormRefusal)
		assert.True(t, errors.Is(err, pki.ErrNonce) && errors.Is(err, errNonceForm), "%v", err)
		assert.True(t, got.IsZero(), "%v", got)
	}
}

// TestNonceRandomOctets: a nonce's octets 8 to 15 are the first 8 octets
// that its random source gives, all 8 of them, and a source that ends
// before 8 mints no nonce.
func TestNonceRandomOctets(t *testing.T) {
	exp := time.Unix(1_800_000_000, 0)
	random := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	n, err := mintNonce(testNonceKey, bytes.NewReader(random), exp, alice, nil)
	require.NoError(t, err)
	assert.Equal(t, random[:8], n[8:16])

	n, err = mintNonce(testNonceKey, bytes.NewReader(random[:7]), exp, alice, nil)
	assert.Same(t, io.ErrUnexpectedEOF, err, "7 octets")
	assert.Nil(t, n)
}

// TestNonceExpiryBeyondInt64: a nonce whose expiry octets read above
// 2^63-1, which no nonce minted carries, is refused as no nonce of this
// platform even under a valid MAC, at any time: not read as an expiry
// before the Unix epoch (1677 as int64), and so neither expired after it
// nor usable before it.
func TestNonceExpiryBeyondInt64(t *testing.T) {
	for _, v := range []uint64{1 << 63, 1<<64 - 1} {
		n := make([]byte, 32)
		binary.BigEndian.PutUint64(n[:8], v)
		nonceTag(testNonceKey, n[16:], n, alice, nil)
		for _, now := range []time.Time{time.Unix(1_800_000_000, 0), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)} {
			got, err := openNonce(testNonceKey, n, now, alice, nil)
			assert.EqualError(t, err, nonceFormRefusal, "expiry %#x at %v", v, now)
			assert.ErrorIs(t, err, errNonceForm)
			assert.True(t, got.IsZero(), "%v", got)
		}
	}
}

// TestNonceExpiryToTheNanosecond: openNonce returns the expiry that the
// nonce carries to the nanosecond, an odd one too: the nonce is usable
// until the nanosecond before it, and expired at it.
func TestNonceExpiryToTheNanosecond(t *testing.T) {
	exp := time.Unix(1_800_000_000, 7)
	n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
	require.NoError(t, err)
	got, err := openNonce(testNonceKey, n, exp.Add(-time.Nanosecond), alice, nil)
	require.NoError(t, err)
	assert.True(t, got.Equal(exp), "%v", got)
	_, err = openNonce(testNonceKey, n, exp, alice, nil)
	assert.EqualError(t, err, pki.ErrNonce.Error()+": expired")
}

// TestNonceRefusalCause: openNonce tells a nonce that is not one of this
// platform for the card and request given (its MAC, its length) from one
// that is and has expired, both matching pki.ErrNonce.
func TestNonceRefusalCause(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Minute)
	n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
	require.NoError(t, err)
	for name, open := range map[string]func() (time.Time, error){
		"another card": func() (time.Time, error) { return openNonce(testNonceKey, n, now, bob, nil) },
		"another key": func() (time.Time, error) {
			return openNonce(newNonceMAC(make([]byte, nonceKeySize)), n, now, alice, nil)
		},
		"a consent nonce": func() (time.Time, error) { return openNonce(testNonceKey, n, now, alice, make([]byte, 16)) },
		"31 octets":       func() (time.Time, error) { return openNonce(testNonceKey, n[:31], now, alice, nil) },
		"33 octets":       func() (time.Time, error) { return openNonce(testNonceKey, append(bytes.Clone(n), 0), now, alice, nil) },
	} {
		got, err := open()
		assert.EqualError(t, err, nonceFormRefusal, name)
		assert.ErrorIs(t, err, errNonceForm, name)
		assert.True(t, got.IsZero(), "%s: %v", name, got)
	}
	got, err := openNonce(testNonceKey, n, exp, alice, nil)
	assert.EqualError(t, err, pki.ErrNonce.Error()+": expired")
	assert.NotErrorIs(t, err, errNonceForm)
	assert.True(t, got.IsZero(), "%v", got)
}
