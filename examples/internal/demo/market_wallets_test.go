package demo

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSetupOpensShopperWallets: Setup opens a wallet for each shopper
// card, funded or not, and none for a seller card.
func TestSetupOpensShopperWallets(t *testing.T) {
	ctx := context.Background()
	c, ids := setUpCloud(t)
	b, err := c.Platform.Balance(ctx, ids["bob"], "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{}, b, "a shopper without funds")
	_, err = c.Platform.Balance(ctx, ids["till"], "EUR")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "a seller")
}

// TestTopUp: TopUp funds a wallet with the amount only when less than
// need is available, and reports whether it did.
func TestTopUp(t *testing.T) {
	ctx := context.Background()
	c, ids := setUpCloud(t)
	alice := ids["alice"]
	for _, tt := range []struct {
		need   uint64
		topped bool
		posted uint64
	}{
		{5000, false, 5000}, // as much as needed
		{5001, true, 5100},
		{5100, false, 5100},
	} {
		topped, err := TopUp(ctx, c, alice, "EUR", tt.need, 100)
		require.NoError(t, err)
		assert.Equal(t, tt.topped, topped, "need %d", tt.need)
		b, err := c.Platform.Balance(ctx, alice, "EUR")
		require.NoError(t, err)
		assert.Equal(t, payflow.Balance{Posted: tt.posted}, b, "need %d", tt.need)
	}
}
