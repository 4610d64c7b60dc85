package sqlstate_test

import (
	"context"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestUndecodableStoredValues: a read of a row whose stored value does
// not decode (a payment request's lines, a card's chain, that is not
// CBOR) fails with the decoder's error, rather than returning a record
// without the value.
func TestUndecodableStoredValues(t *testing.T) {
	ctx := context.Background()
	db, open := engines[0].fresh(t) // SQLite
	s := sqlStore(t, open(t))
	cardsAndMerchant(t, s)
	withPayment(payflow.StatePending)(t, s)
	for _, q := range []string{
		`UPDATE payflow_payments SET lines = x'ff'`,
		`UPDATE payflow_cards SET chain = x'ff' WHERE id = '` + sellerCard + `'`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	var syntax *cbor.SyntaxError
	p, err := s.Payment(ctx, payflow.ID{2})
	assert.Nil(t, p)
	assert.ErrorAs(t, err, &syntax, "the payment's lines")
	err = s.Cards(ctx, func(*payflow.CardRecord) error { return nil })
	assert.ErrorAs(t, err, &syntax, "a card's chain")
}
