package payflow

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestPhoneOptionsZeroDurationsAreTheDefaults: a phone given no poll
// interval, settle wait or rate-limit pauses (their zero values) uses the
// defaults that PhoneOptions names, not zero: it does not ask the platform
// again at once while it waits, nor send a refused call again at once.
func TestPhoneOptionsZeroDurationsAreTheDefaults(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
		var p phone
		require.NoError(t, p.init(role, &turnCard{}, PhoneOptions{API: namingAPI{}, PlatformKey: &key.PublicKey}))
		assert.Equal(t, DefaultPollInterval, p.opts.PollInterval, role)
		assert.Equal(t, DefaultSettleWait, p.opts.SettleWait, role)
		assert.Equal(t, DefaultRateLimitPause, p.opts.RateLimitPause, role)
		assert.Equal(t, DefaultMaxRateLimitPause, p.opts.MaxRateLimitPause, role)
	}
}
