package payflow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// advertAtPhone is what the tests of AdvertAt need of a Shopper or a
// Seller.
type advertAtPhone interface {
	AdvertAt(now time.Time) ([]byte, error)
}

// advertAt returns the advert of p at now, parsed, which it checks to
// carry card's EID for the epoch of now and role.
func advertAt(tb testing.TB, p advertAtPhone, card *simcardtest.Virtual, role adv.Role, now time.Time) adv.Packet {
	tb.Helper()
	raw, err := p.AdvertAt(now)
	require.NoError(tb, err)
	pkt, err := adv.Parse(raw)
	require.NoError(tb, err)
	want, err := adv.DeriveEID(card.Enrolment.AdvertisingSecret, adv.Epoch(now))
	require.NoError(tb, err)
	require.Equal(tb, want, pkt.EID, "the EID of the epoch of %v", now)
	require.Equal(tb, role, pkt.Role)
	return pkt
}

// TestPhoneAdvertAt: AdvertAt is Advert at the time it is given instead
// of the phone's clock (PhoneOptions.Now): the card's EID for that time's
// epoch, assets as the options say, and busy while the session selected
// last is paired and that time is before its ExpiresAt, whatever the
// phone's clock reads.
func TestPhoneAdvertAt(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.useAssetsPhones(t, false, true)
	now := w.f.Clock.Now()
	next := adv.EpochStart(adv.Epoch(now) + 1)
	assert.Equal(t, adv.Flags(0), advertAt(t, w.shopper, w.shopperCard, adv.Shopper, now).Flags, "no session")
	assert.Equal(t, adv.FlagAssets, advertAt(t, w.seller, w.sellerCard, adv.Seller, now).Flags, "no session")
	assert.Equal(t, adv.Flags(0), advertAt(t, w.shopper, w.shopperCard, adv.Shopper, next).Flags, "no session, the next epoch")

	c := w.pair(t)
	require.True(t, w.f.Clock.Now().Before(c.ExpiresAt))
	for _, at := range []time.Time{w.f.Clock.Now(), next, c.ExpiresAt.Add(-time.Nanosecond)} {
		assert.Equal(t, adv.FlagBusy, advertAt(t, w.shopper, w.shopperCard, adv.Shopper, at).Flags, "paired, at %v", at)
		assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertAt(t, w.seller, w.sellerCard, adv.Seller, at).Flags, "paired, at %v", at)
	}
	for _, at := range []time.Time{c.ExpiresAt, c.ExpiresAt.Add(time.Hour)} {
		assert.Equal(t, adv.Flags(0), advertAt(t, w.shopper, w.shopperCard, adv.Shopper, at).Flags, "expired at %v", at)
		assert.Equal(t, adv.FlagAssets, advertAt(t, w.seller, w.sellerCard, adv.Seller, at).Flags, "expired at %v", at)
	}
	// The phone's clock, before the session's expiry, still has Advert
	// busy.
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))
}
