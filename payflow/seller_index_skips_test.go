package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRequestGivesUpAfter17TakenIndexes: a seller phone started
// again in a session whose first 18 request indexes its earlier run used
// moves past 16 of them in one Request, asks at the next, finds it taken
// too, moves past it and fails with ErrConflict, the card having signed
// 17 payment requests; the next Request moves past the last one and takes
// the index after it, the card signing 2, and the shopper pays it.
func TestSellerRequestGivesUpAfter17TakenIndexes(t *testing.T) {
	a, ca, _ := restartedInTakenSession(t, 18)
	before, err := a.sellerCard.Card.Counter()
	require.NoError(t, err)
	_, err = a.seller.Request(context.Background(), basket)
	require.ErrorIs(t, err, payflow.ErrConflict)
	after, err := a.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before+17, after, "17 requests signed, each at an index found taken")
	a.requireBackAt(t, ca, basket, 18, 2, 690)
}
