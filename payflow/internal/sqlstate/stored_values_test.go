package sqlstate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// TestUndecodableStoredValues: a read of a row whose stored value does
// not decode (a payment request's lines or legs, a card's chain, that is
// not CBOR) fails with the decoder's error, rather than returning a
// record without the value.
func TestUndecodableStoredValues(t *testing.T) {
	for _, c := range []struct {
		name, q string
		read    func(context.Context, *sqlstate.Store) error
	}{
		{"lines", `UPDATE payflow_payments SET lines = x'ff'`, readPayment},
		{"legs", `UPDATE payflow_payments SET legs = x'ff'`, readPayment},
		{"chain", `UPDATE payflow_cards SET chain = x'ff' WHERE id = '` + sellerCard + `'`,
			func(ctx context.Context, s *sqlstate.Store) error {
				return s.Cards(ctx, func(*payflow.CardRecord) error { return nil })
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := engines[0].fresh(t) // SQLite
			s := sqlStore(t, open(t))
			cardsAndMerchant(t, s)
			withPayment(payflow.StatePending)(t, s)
			_, err := db.ExecContext(ctx, c.q)
			require.NoError(t, err, c.q)
			var syntax *cbor.SyntaxError
			assert.ErrorAs(t, c.read(ctx, s), &syntax)
		})
	}
}

// readPayment reads request 2 of withPayment, which it expects to fail:
// it returns the error, and no record with it.
func readPayment(ctx context.Context, s *sqlstate.Store) error {
	p, err := s.Payment(ctx, payflow.ID{2})
	if p != nil {
		return fmt.Errorf("a record %+v with the error %w", p, err)
	}
	return err
}

// TestLongListsReadBack: a request whose legs are more than the CBOR
// library's default limit of one array's elements (2^17) is read back
// with all of them, rather than written and then unreadable.
func TestLongListsReadBack(t *testing.T) {
	onEachEngine(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		const shopper, seller = "8900000000000000001", "8900000000000000002"
		p := pendingRequest(shopper, seller)
		p.Legs = make([]payflow.AssetLeg, 1<<17+1)
		p.Legs[len(p.Legs)-1] = payflow.AssetLeg{Asset: "ticket", Amount: 1}
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: seller, Counter: 1, Insert: p}))
		got, err := s.Payment(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, p.Legs, got.Legs)
	})
}
