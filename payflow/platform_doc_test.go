package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// TestStoreCardsEndsAtFnError: an error of Cards' fn ends the walk, as
// Store.Cards says: fn is called for the first card only, and Cards
// returns that error itself.
func TestStoreCardsEndsAtFnError(t *testing.T) {
	eachStore(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		for i, id := range []string{"8900000000000000001", "8900000000000000002"} {
			c := &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte{byte(i + 1)}, adv.SecretSize), DisplayName: "card"}
			require.NoError(t, s.PutCard(ctx, c))
		}
		stop := errors.New("stop")
		var seen []string
		err := s.Cards(ctx, func(c *payflow.CardRecord) error {
			seen = append(seen, c.ID)
			return stop
		})
		assert.Same(t, stop, err)
		assert.Equal(t, []string{"8900000000000000001"}, seen)
	})
}
