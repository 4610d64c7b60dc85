package payflow

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
)

// TestNonceExpiryBeforeEpoch: a nonce minted with an expiry before the
// Unix epoch, which a nonce does not carry, carries the epoch (its first
// 8 bytes zero), however long before (also before 1678, when the Unix
// time in nanoseconds no longer fits an int64): it is a nonce of this
// platform, expired at the epoch and at any time after, and usable until
// the epoch at a time before it.
func TestNonceExpiryBeforeEpoch(t *testing.T) {
	epoch := time.Unix(0, 0)
	expired := pki.ErrNonce.Error() + ": expired"
	for _, exp := range []time.Time{
		time.Unix(0, -1),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), // UnixNano: 2184-07-20
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), // UnixNano: 2169-02-08
		{}, // year 1
	} {
		t.Run(exp.Format(time.RFC3339Nano), func(t *testing.T) {
			n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
			require.NoError(t, err)
			require.Len(t, n, 32)
			assert.Equal(t, make([]byte, 8), n[:8], "the expiry carried")

			for _, now := range []time.Time{epoch, epoch.Add(time.Nanosecond), time.Unix(1_800_000_000, 0)} {
				got, err := openNonce(testNonceKey, n, now, alice, nil)
				assert.EqualError(t, err, expired, "opened at %v", now)
				assert.True(t, got.IsZero())
			}
			got, err := openNonce(testNonceKey, n, epoch.Add(-time.Nanosecond), alice, nil)
			require.NoError(t, err)
			assert.True(t, got.Equal(epoch), "%v", got)
		})
	}
}

// TestNonceExpiryAfterLatest: a nonce minted with an expiry after the
// latest that it carries, time.Unix(0, math.MaxInt64) (2262-04-11),
// carries that one: it is usable until then.
func TestNonceExpiryAfterLatest(t *testing.T) {
	latest := time.Unix(0, math.MaxInt64)
	for _, exp := range []time.Time{
		latest,
		latest.Add(time.Nanosecond),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), // UnixNano: before 1970
		time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(exp.Format(time.RFC3339Nano), func(t *testing.T) {
			n, err := mintNonce(testNonceKey, rand.Reader, exp, alice, nil)
			require.NoError(t, err)
			assert.Equal(t, uint64(math.MaxInt64), binary.BigEndian.Uint64(n[:8]), "the expiry carried")

			got, err := openNonce(testNonceKey, n, time.Unix(1_800_000_000, 0), alice, nil)
			require.NoError(t, err)
			assert.True(t, got.Equal(latest), "%v", got)
			_, err = openNonce(testNonceKey, n, latest, alice, nil)
			assert.EqualError(t, err, pki.ErrNonce.Error()+": expired")
		})
	}
}
