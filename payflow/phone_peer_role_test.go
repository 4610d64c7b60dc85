package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// TestSellerPeersLeaveOutASellerCardAdvertisingAsAShopper: a seller card
// whose advert claims the shopper role (the platform names it, as it
// names every seller card, with the role it has) is no counterparty of a
// seller phone: Peers leaves it out and shows the shopper heard.
func TestSellerPeersLeaveOutASellerCardAdvertisingAsAShopper(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	// Well inside an epoch, so that the EIDs stay the same.
	toNextEpoch(t, w.f, time.Minute)
	till := enrolPhoneCard(t, w.f, "Till 2")
	require.NoError(t, w.f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: "other-shop", Name: "Other Shop", Currency: "EUR", SellerCardIDs: []string{till.Enrolment.ICCID},
	}))
	forged := w.hears(t, w.seller.Queue(), till, adv.Shopper, -40)
	shopper := w.hears(t, w.seller.Queue(), w.shopperCard, adv.Shopper, -50)

	peers, err := w.seller.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1, "the seller card advertising as a shopper left out")
	assert.Equal(t, payflow.QueueEntry{EID: shopper.EID, Name: "Alice", RSSI: -50, Level: -50}, peers[0])
	assert.NotEqual(t, forged.EID, peers[0].EID)
}
