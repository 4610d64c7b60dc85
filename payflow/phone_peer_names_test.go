package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// badNameAPI answers resolutions with a display name of a form that the
// platform never enrols (a bidirectional override) while bad is set.
type badNameAPI struct {
	payflow.API
	bad bool
}

func (a *badNameAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	r, err := a.API.Resolve(ctx, token, req)
	if err == nil && a.bad {
		altered := *r
		altered.DisplayName = "Corner\u202epohS"
		r = &altered
	}
	return r, err
}

// TestPeerNamesNoPlatformGives: a resolution answered with a display name
// of a form that the platform never enrols (record.CheckName: here a
// bidirectional override, which makes a screen show text in another
// order) is no name of the platform: Peers and Select fail with
// ErrMismatch, nothing is shown or kept, no pairing proof is signed, and
// the next call asks again and shows the peer as the platform names it.
func TestPeerNamesNoPlatformGives(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	// Well inside an epoch, so that the EID stays the same.
	toNextEpoch(t, w.f, time.Minute)
	api := &badNameAPI{API: w.f.Platform, bad: true}
	w.useShopper(t, api)
	p := w.shopperHearsSeller(t, w.sellerCard, -40)

	peers, err := w.shopper.Peers(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, peers)
	before, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)
	c, err := w.shopper.Select(ctx, p.EID)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, c)
	after, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "no pairing proof signed")

	api.bad = false
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40, Selected: false}, peers[0])
	c, err = w.shopper.Select(ctx, p.EID)
	require.NoError(t, err)
	assert.Equal(t, "Corner Shop", c.Name)
}
