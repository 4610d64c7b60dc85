package payflow_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// ownRoleAPI is a platform that names one EID, to every card, as a
// shopper card of that name (role 1), as a platform that named shopper
// cards to shopper cards would, and counts the pairings sent.
type ownRoleAPI struct {
	payflow.API
	eid   []byte
	name  string
	pairs atomic.Int32
}

func (a *ownRoleAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	if bytes.Equal(req.EID, a.eid) {
		return &payflow.ResolveResponse{DisplayName: a.name, Role: uint8(adv.Shopper)}, nil
	}
	return a.API.Resolve(ctx, token, req)
}

func (a *ownRoleAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	a.pairs.Add(1)
	return a.API.Pair(ctx, req)
}

// TestShopperDropsAnAnswerOfItsOwnRole pins PROTOCOL.md §6.1: "a shopper
// phone has no use for another shopper's name: it takes an answer of its
// own role as a `not_found`, an EID it cannot name". A shopper card heard
// advertising as a seller, which the platform names as the shopper card
// it is, is no counterparty of the shopper phone: Peers leaves it out and
// shows the seller heard, and a Select of it fails with ErrNotFound,
// sending no pairing, as for an EID that the platform does not name.
func TestShopperDropsAnAnswerOfItsOwnRole(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	toNextEpoch(t, w.f, time.Minute) // well inside an epoch: the EIDs stay the same
	bob := enrolPhoneCard(t, w.f, "Bob")
	api := &ownRoleAPI{API: w.f.Platform, name: "Bob"}
	w.useShopper(t, api)
	forged := w.shopperHearsSeller(t, bob, -40)
	api.eid = forged.EID[:]
	seller := w.shopperHearsSeller(t, w.sellerCard, -50)

	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1, "the shopper card named as a shopper left out")
	assert.Equal(t, seller.EID, peers[0].EID)
	assert.Equal(t, "Corner Shop", peers[0].Name)

	_, err = w.shopper.Select(ctx, forged.EID)
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Zero(t, api.pairs.Load(), "no pairing sent")
}
