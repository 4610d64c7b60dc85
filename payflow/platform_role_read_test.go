package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// roleRace has a read of Bob's card (a shopper card) by read, begun
// before this process enrols a merchant that lists Bob's card and ended
// after, and returns the error of read: the read found Bob's card a
// shopper card. Alice's miss has reloaded the cards just before, so that
// none of her misses reloads them after.
func roleRace(t *testing.T, h hiddenCalls, read func() error) (unknownResolve, readErr error) {
	t.Helper()
	s, st, alice, bob := h.s, h.st, h.s.shopper, h.bob
	s.Clock.Advance(payflow.CardReloadInterval)
	_, unknownResolve = h.resolve(alice, h.unknown)
	require.ErrorIs(t, unknownResolve, payflow.ErrNotFound)

	reached, release := st.blockOnce(bob.ID)
	defer release()
	done := make(chan error, 1)
	go func() { done <- read() }()
	<-reached
	stall := payflow.Merchant{ID: "fruit-stall", Name: "Fruit Stall", Currency: "EUR", SellerCardIDs: []string{bob.ID}}
	require.NoError(t, s.Platform.EnrollMerchant(context.Background(), stall))
	release()
	return unknownResolve, <-done
}

// TestRoleReadBeforeMerchantEnrolment: a read of a card that began
// before this process enrolled a merchant listing it, and ended after,
// does not set the role it read in the EID resolver: the card, now a
// seller card, is named to a shopper card, with no reload of the cards
// since, whether the read was a login's or a reload's.
func TestRoleReadBeforeMerchantEnrolment(t *testing.T) {
	named := &payflow.ResolveResponse{DisplayName: "Fruit Stall", Role: uint8(record.RoleSeller), MerchantID: "fruit-stall"}
	t.Run("login", func(t *testing.T) {
		h := newHiddenCalls(t)
		proof := h.bob.Proof(record.RoleShopper, nil)
		h.s.Clock.Advance(payflow.DefaultCacheTTL) // the login reads the store
		_, err := roleRace(t, h, func() error {
			resp, err := h.s.Platform.Login(context.Background(), &payflow.LoginRequest{Proof: proof})
			if err == nil && resp.MerchantID != "" {
				t.Errorf("login read Bob's card as one of merchant %q", resp.MerchantID)
			}
			return err
		})
		require.NoError(t, err)
		r, err := h.resolve(h.s.shopper, h.bob.EID())
		require.NoError(t, err, "Bob made a seller card here during his login")
		assert.Equal(t, named, r)
	})
	t.Run("reload", func(t *testing.T) {
		h := newHiddenCalls(t)
		_, err := roleRace(t, h, func() error { return h.s.Platform.Reload(context.Background()) })
		require.NoError(t, err)
		r, err := h.resolve(h.s.shopper, h.bob.EID())
		require.NoError(t, err, "Bob made a seller card here during a reload")
		assert.Equal(t, named, r)
	})
}
