package payflow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
)

// budgetAPI answers resolutions from names, an EID missing from it not
// found, until it has answered budget of them; it refuses the others
// for the card's rate. It records the EIDs it was asked about, in order.
type budgetAPI struct {
	API

	mu     sync.Mutex
	names  map[adv.EID]string
	budget int
	asked  []adv.EID
}

func (a *budgetAPI) Resolve(_ context.Context, _ string, req *ResolveRequest) (*ResolveResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	eid := adv.EID(req.EID)
	a.asked = append(a.asked, eid)
	if a.budget == 0 {
		return nil, fmt.Errorf("%w: too many resolutions", ErrRateLimited)
	}
	a.budget--
	name, ok := a.names[eid]
	if !ok {
		return nil, fmt.Errorf("%w: unknown EID", ErrNotFound)
	}
	return &ResolveResponse{DisplayName: name, Role: uint8(adv.Seller), MerchantID: "shop"}, nil
}

// TestPeersAskAboutUnnamedPeersFirst: a peer of which the platform named
// nothing, its answer expired, is asked about again among the peers that
// the phone cannot name, in the queue's order, before the peers shown
// under a name that expired: when the platform then answers one more
// resolution only, the peer nearest first gets it, and shows its name.
func TestPeersAskAboutUnnamedPeersFirst(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	p := namingPhone(&now)
	q, err := queue.New(adv.Shopper, queue.Options{Now: clock, TTL: queue.MaxTTL})
	require.NoError(t, err)
	p.queue = q
	near, named, far := testEID(1), testEID(2), testEID(3)
	api := &budgetAPI{names: map[adv.EID]string{named: "Named Shop"}, budget: 2}
	p.api = api
	hear := func(eid adv.EID, rssi int) {
		t.Helper()
		require.NoError(t, q.Observe(adv.Packet{Role: adv.Seller, EID: eid}, rssi, now))
	}

	hear(near, -40)
	hear(named, -50)
	peers, err := p.Peers(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []QueueEntry{{EID: named, Name: "Named Shop", MerchantID: "shop", RSSI: -50, Level: -50}}, peers, "near is not known")

	// Both answers expired, less than PeerNameTTL ago. The platform knows
	// near now, and answers one more resolution.
	now = now.Add(UnknownPeerTTL + time.Second)
	api.mu.Lock()
	api.names[near], api.budget, api.asked = "Near Shop", 1, nil
	api.mu.Unlock()
	hear(far, -60)
	peers, err = p.Peers(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []QueueEntry{
		{EID: near, Name: "Near Shop", MerchantID: "shop", RSSI: -40, Level: -40},
		{EID: named, Name: "Named Shop", MerchantID: "shop", RSSI: -50, Level: -50},
	}, peers, "near named, named shown under its expired name, far left out")
	assert.Equal(t, []adv.EID{near, far}, api.asked, "near first, far refused for the rate, named not asked")
}
