package payflow_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// expiredEIDAPI answers every resolution with the platform's expired
// while expired is set, and counts the resolutions.
type expiredEIDAPI struct {
	payflow.API
	expired  atomic.Bool
	resolves atomic.Int32
}

func (a *expiredEIDAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	a.resolves.Add(1)
	if a.expired.Load() {
		return nil, fmt.Errorf("%w: the EID's epoch is over", payflow.ErrExpired)
	}
	return a.API.Resolve(ctx, token, req)
}

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
	api := &expiredEIDAPI{API: w.f.Platform}
	api.expired.Store(true)
	w.useShopper(t, api)
	p := w.shopperHearsSeller(t, w.sellerCard, -40)

	for range 2 {
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers)
	}
	assert.Equal(t, int32(1), api.resolves.Load(), "the answer kept")

	api.expired.Store(false)
	w.f.Clock.Advance(payflow.UnknownPeerTTL)
	require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}, peers[0])
	assert.Equal(t, int32(2), api.resolves.Load())
}
