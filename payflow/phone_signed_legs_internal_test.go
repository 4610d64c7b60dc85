package payflow

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki/record"
)

// TestReceiptLegsAsSigned: a payment receipt whose asset legs are those
// of the request that the seller's card signed, in order, passes
// checkReceiptLines; one with a leg of another asset or amount, the legs
// in another order, or a leg dropped or added is ErrMismatch, with or
// without items and money in the request; so is one with a transfer ID
// too few or too many (one for the money, when there is any, and one for
// each leg).
func TestReceiptLegsAsSigned(t *testing.T) {
	signedLegs := []record.Leg{{Asset: "ticket", Amount: 1}, {Asset: "GOLD", Amount: 3}}
	// Each request with the number of ledger transfers its settlement
	// posts: one for the money, when there is any, and one for each leg.
	requests := map[string]struct {
		r         *record.PaymentRequest
		transfers int
	}{
		"items, money and legs": {&record.PaymentRequest{
			Currency: "EUR", Amount: 690,
			Items: []record.Item{{SKU: "apple", Quantity: 2}, {SKU: "loaf", Quantity: 1}},
			Legs:  signedLegs,
		}, 3},
		"legs alone": {&record.PaymentRequest{Currency: "EUR", Legs: signedLegs}, 2},
	}
	alterations := []struct {
		name  string
		alter func([]record.Leg) []record.Leg
	}{
		{"first leg's asset", func(l []record.Leg) []record.Leg { l[0].Asset = "TICKET"; return l }},
		{"first leg's amount", func(l []record.Leg) []record.Leg { l[0].Amount = 2; return l }},
		{"last leg's asset", func(l []record.Leg) []record.Leg { l[1].Asset = "gold"; return l }},
		{"last leg's amount", func(l []record.Leg) []record.Leg { l[1].Amount = 1; return l }},
		{"last leg's amount zero", func(l []record.Leg) []record.Leg { l[1].Amount = 0; return l }},
		{"legs swapped", func(l []record.Leg) []record.Leg { l[0], l[1] = l[1], l[0]; return l }},
		{"assets swapped", func(l []record.Leg) []record.Leg { l[0].Asset, l[1].Asset = l[1].Asset, l[0].Asset; return l }},
		{"amounts swapped", func(l []record.Leg) []record.Leg { l[0].Amount, l[1].Amount = l[1].Amount, l[0].Amount; return l }},
		{"leg dropped", func(l []record.Leg) []record.Leg { return l[:1] }},
		{"leg added", func(l []record.Leg) []record.Leg { return append(l, record.Leg{Asset: "ticket", Amount: 1}) }},
	}
	differ := ErrMismatch.Error() + ": the receipt's lines or legs differ from the seller's signed request"
	for name, req := range requests {
		r := req.r
		// receipt is a payment receipt of r with legs and transfers
		// ledger transfer IDs.
		receipt := func(legs []record.Leg, transfers int) *Receipt {
			rc := &Receipt{Receipt: record.Receipt{Kind: record.ReceiptPayment, Currency: r.Currency, Amount: r.Amount, Legs: legs}}
			if len(r.Items) > 0 {
				rc.Lines = []record.Line{
					{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120},
					{SKU: "loaf", Name: "Loaf", Quantity: 1, UnitPrice: 450},
				}
			}
			for range transfers {
				rc.TransferIDs = append(rc.TransferIDs, make([]byte, 16))
			}
			return rc
		}
		t.Run(name, func(t *testing.T) {
			require.NoError(t, checkReceiptLines(receipt(append([]record.Leg(nil), signedLegs...), req.transfers), r))
			for _, n := range []int{req.transfers - 1, req.transfers + 1} {
				rc := receipt(append([]record.Leg(nil), signedLegs...), n)
				assert.EqualError(t, checkReceiptLines(rc, r), fmt.Sprintf("%s: the receipt carries %d ledger transfer IDs, not the %d of the seller's signed request", ErrMismatch, n, req.transfers))
			}
			for _, tt := range alterations {
				t.Run(tt.name, func(t *testing.T) {
					err := checkReceiptLines(receipt(tt.alter(append([]record.Leg(nil), signedLegs...)), req.transfers), r)
					require.ErrorIs(t, err, ErrMismatch)
					assert.EqualError(t, err, differ)
				})
			}
		})
	}
}
