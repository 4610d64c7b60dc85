package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestPairRefusesACardNamingItself: a pairing proof that names the
// signing card's own EID as the peer is ErrInvalid, whichever role it
// signs: a seller card pairs with no shopper card but another, and a
// shopper card naming its own EID is told so, not answered as for an
// unknown EID, which its own is not. Nothing is paired: the card's
// sessions stay as they were.
func TestPairRefusesACardNamingItself(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		card *paytest.Card
		role record.Role
	}{{s.seller, record.RoleSeller}, {s.shopper, record.RoleShopper}, {s.seller, record.RoleShopper}} {
		_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: c.card.Proof(c.role, c.card.EID())})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%s as role %d", c.card.ID, c.role)
		assert.EqualError(t, err, "payflow: invalid request: a card cannot pair with itself", "%s as role %d", c.card.ID, c.role)
	}
	_, err := s.Platform.Session(ctx, s.seller.Token, payflow.SessionID(s.seller.EID(), s.seller.EID()))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no session of the seller card with itself")
}

// TestPairRefusesAShopperProofNamingNoSeller: a proof of the shopper role
// signed by a seller card that names a shopper card's EID is ErrForbidden:
// the peer of a shopper is a seller card, and no session is made with a
// shopper card as its seller.
func TestPairRefusesAShopperProofNamingNoSeller(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleShopper, s.shopper.EID())})
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.EqualError(t, err, "payflow: forbidden: the peer is not a seller")
	_, err = s.Platform.Session(ctx, s.seller.Token, payflow.SessionID(s.seller.EID(), s.shopper.EID()))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no session with the shopper card as its seller")
}

// unreadSpent is a Store whose Spent finds every proof unspent, as it
// does a proof whose later one (or a copy) another process accepts just
// after the read.
type unreadSpent struct{ payflow.Store }

func (unreadSpent) Spent(context.Context, []byte, string, uint64) error { return nil }

// TestPairGivesBackForAPassedCounter: a pairing whose proof the store's
// acceptance refuses for its counter (ErrClone: a later proof of the card
// accepted between the read of the proof's counter and the acceptance)
// gives its EID resolution back, as one spent by a copy (ErrReplay) does.
func TestPairGivesBackForAPassedCounter(t *testing.T) {
	s := newShopOn(t, unreadSpent{memory.New()}, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	ctx := context.Background()
	earlier := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: earlier})
	require.ErrorIs(t, err, payflow.ErrClone)
	requireBudget(t, s, 2)
}
