package payflow

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestPhoneOptionsZeroDurationsAreTheDefaults: a phone given no poll
// interval, settle wait or rate-limit pauses (their zero values), or
// negative ones, uses the defaults that PhoneOptions names, not zero or
// less: it does not ask the platform again at once while it waits, nor
// send a refused call again at once.
func TestPhoneOptionsZeroDurationsAreTheDefaults(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, d := range []time.Duration{0, -1, -time.Second} {
		for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
			var p phone
			require.NoError(t, p.init(role, &turnCard{}, PhoneOptions{
				API: namingAPI{}, PlatformKey: &key.PublicKey,
				PollInterval: d, SettleWait: d, RateLimitPause: d, MaxRateLimitPause: d,
			}))
			assert.Equal(t, DefaultPollInterval, p.opts.PollInterval, "%v %v", role, d)
			assert.Equal(t, DefaultSettleWait, p.opts.SettleWait, "%v %v", role, d)
			assert.Equal(t, DefaultRateLimitPause, p.opts.RateLimitPause, "%v %v", role, d)
			assert.Equal(t, DefaultMaxRateLimitPause, p.opts.MaxRateLimitPause, "%v %v", role, d)
		}
	}
}
