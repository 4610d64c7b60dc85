package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestTokenReadLost: a call of a token that the process does not keep
// (issued by another process), whose read from the store fails, fails
// with the store's error (internal); once the store answers, the same
// token serves.
func TestTokenReadLost(t *testing.T) {
	s, st := outageShop(t)
	ctx := context.Background()
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	st.token.failAll()
	err := other.CheckToken(ctx, s.shopper.Token)
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)

	st.token.disarm()
	require.NoError(t, other.CheckToken(ctx, s.shopper.Token))
}

// TestTokenOfCardReadWithOtherChain: the token of a card that the store
// reads without a chain binds to no certificate, as that of a card
// enrolled with another one: card_not_trusted. Read with its certificate
// followed by one that pki cannot read, so that its expiry and
// revocation cannot be looked up, the token fails for the platform
// (internal). Read as enrolled again, the token serves.
func TestTokenOfCardReadWithOtherChain(t *testing.T) {
	for _, tt := range []struct {
		name  string
		chain func(s *shop) [][]byte
		want  error
		code  string
	}{
		{"none", func(*shop) [][]byte { return [][]byte{} }, payflow.ErrCard, "card_not_trusted"},
		{"unreadable after the certificate", func(s *shop) [][]byte {
			return [][]byte{s.shopper.Chain[0], []byte("no certificate")}
		}, payflow.ErrInternal, "internal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &unreadableChain{Store: memory.New()}
			s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
			ctx := context.Background()
			st.chain = tt.chain(s)
			st.id.Store(s.shopper.ID)
			err := s.Platform.CheckToken(ctx, s.shopper.Token)
			require.ErrorIs(t, err, tt.want)
			assert.Equal(t, tt.code, payflow.AsError(err).Code)

			st.id.Store("")
			require.NoError(t, s.Platform.CheckToken(ctx, s.shopper.Token))
		})
	}
}

// TestPendingRequestOfUnreadablePayerChain: the seller card's read of a
// pending request whose payer card the store reads with a chain that pki
// cannot read, so that its revocation cannot be looked up, fails for the
// platform (internal) and leaves the request pending, nothing moved;
// once the store reads the card as enrolled, the same read shows it
// pending.
func TestPendingRequestOfUnreadablePayerChain(t *testing.T) {
	st := &unreadableChain{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	ctx := context.Background()
	before := s.balances(t)
	v, _ := s.request(t)
	st.id.Store(s.shopper.ID)

	got, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.Nil(t, got)
	s.requireState(t, v.ID, payflow.StatePending)

	st.id.Store("")
	got, err = s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, got.State)
	assert.Equal(t, before, s.balances(t))
}
