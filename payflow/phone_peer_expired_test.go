package payflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestPeersLeaveOutAnEIDThePlatformAnswersExpired: a resolution that the
// platform refuses with expired is its answer that it cannot name the
// EID, as not_found is: Peers leaves the peer out without error and keeps
// that answer for UnknownPeerTTL, asking nothing meanwhile, and then
// asks again and names the peer.
func TestPeersLeaveOutAnEIDThePlatformAnswersExpired(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	// Well inside an epoch, so that the EID stays the same.
	toNextEpoch(t, w.f, time.Minute)
	api := &faultAPI{API: w.f.Platform}
	api.resolve.send.failAllWith(fmt.Errorf("%w: the EID's epoch is over", payflow.ErrExpired))
	w.useShopper(t, api)
	p := w.shopperHearsSeller(t, w.sellerCard, -40)

	for range 2 {
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers)
	}
	assert.Equal(t, 1, api.resolve.send.made(), "the answer kept")

	api.resolve.send.disarm()
	w.f.Clock.Advance(payflow.UnknownPeerTTL)
	require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}, peers[0])
	assert.Equal(t, 2, api.resolve.send.made())
}
