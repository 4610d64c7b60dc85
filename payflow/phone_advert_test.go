package payflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// advertPhone is what the tests of adverts need of a Shopper or a Seller.
type advertPhone interface {
	Advert() ([]byte, error)
	EID() (adv.EID, error)
}

// advertFlags returns the flags of p's advert, which it checks to carry
// p's EID and role: the EID does not depend on the flags.
func advertFlags(tb testing.TB, p advertPhone, role adv.Role) adv.Flags {
	tb.Helper()
	raw, err := p.Advert()
	require.NoError(tb, err)
	pkt, err := adv.Parse(raw)
	require.NoError(tb, err)
	eid, err := p.EID()
	require.NoError(tb, err)
	require.Equal(tb, eid, pkt.EID)
	require.Equal(tb, role, pkt.Role)
	return pkt.Flags
}

// useAssetsPhones replaces w's phones with ones that advertise assets
// (PhoneOptions.Assets) as shopper and seller say.
func (w *phoneWorld) useAssetsPhones(tb testing.TB, shopper, seller bool) {
	tb.Helper()
	opts := w.phoneOptions(w.f.Platform)
	opts.Assets = shopper
	s, err := payflow.NewShopper(w.shopperCard.Card, opts)
	require.NoError(tb, err)
	opts.Assets = seller
	sl, err := payflow.NewSeller(w.sellerCard.Card, opts)
	require.NoError(tb, err)
	w.shopper, w.seller = s, sl
}

// TestPhoneAdvertAssets: a phone advertises neither flag when fresh, and
// assets (adv.FlagAssets) when its options say so (PhoneOptions.Assets,
// PROTOCOL.md §1.1), alone while it is in no session.
func TestPhoneAdvertAssets(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))

	w.useAssetsPhones(t, true, false)
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))

	w.useAssetsPhones(t, false, true)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))
}

// TestPhoneAdvertBusy: a phone advertises busy (adv.FlagBusy) while the
// session it selected last is paired, as it saw it (Select, WaitPaired),
// and has not expired by its clock: not while it waits for the peer to
// select it back, nor from the session's ExpiresAt on.
func TestPhoneAdvertBusy(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	shopperEID, c := w.shopperSelects(t)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper), "waiting")
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller), "no session")

	c2, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	require.True(t, c2.Paired)
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.seller, adv.Seller), "paired")
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper), "not yet seen paired")
	_, err = w.shopper.WaitPaired(ctx)
	require.NoError(t, err)
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper), "paired")

	require.Equal(t, c.ExpiresAt, c2.ExpiresAt)
	advanceTo(t, w.f, c.ExpiresAt.Add(-time.Nanosecond))
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper), "just before the expiry")
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.seller, adv.Seller), "just before the expiry")
	advanceTo(t, w.f, c.ExpiresAt)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper), "expired")
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller), "expired")
}

// TestPhoneAdvertBusyAndAssets: a phone that advertises assets advertises
// busy as well while it is paired, and assets alone once the session
// expired.
func TestPhoneAdvertBusyAndAssets(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.useAssetsPhones(t, true, true)
	c := w.pair(t)
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))
	advanceTo(t, w.f, c.ExpiresAt)
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))
}

// failingAdvertCard is a shopper card whose GET ADVERT fails with err
// once err is set.
type failingAdvertCard struct {
	payflow.ShopperCard
	err error
}

func (c *failingAdvertCard) Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.ShopperCard.Advert(epoch, role, flags)
}

// TestPhoneAdvertCardFails: Advert returns the card's error as it is,
// with no advert, also with flags to set and once the phone has read its
// EID.
func TestPhoneAdvertCardFails(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	card := &failingAdvertCard{ShopperCard: w.shopperCard.Card}
	opts := w.phoneOptions(w.f.Platform)
	opts.Assets = true
	var err error
	w.shopper, err = payflow.NewShopper(card, opts)
	require.NoError(t, err)
	w.pair(t)
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertFlags(t, w.shopper, adv.Shopper))

	errCard := errors.New("card removed")
	card.err = errCard
	raw, err := w.shopper.Advert()
	assert.Equal(t, errCard, err)
	assert.Nil(t, raw)
}
