package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki/record"
)

// signedNow is rc signed now by the platform's receipt key, with its
// chain.
func signedNow(t *testing.T, w *world, rc record.Receipt) []byte {
	t.Helper()
	rc.Time = uint64(w.now.UnixMilli())
	msg, err := record.SignReceipt(w.bytes, w.key, &rc, w.chain)
	require.NoError(t, err)
	return msg
}

// TestPaymentReceiptFields runs a world until a payment is captured and
// checks that a receipt of it, signed by the platform's key, is refused by
// the check of each field that names something else: its kind, the
// request, the consent, the amount and currency, the parties, the asset
// legs.
func TestPaymentReceiptFields(t *testing.T) {
	w := testWorld(t, 9)
	p, v := captured(t, w)
	var rc record.Receipt
	require.NoError(t, record.Verify(v.Receipt, &w.key.PublicKey, &rc))
	require.NoError(t, w.verifyReceipt(p, signedNow(t, w, rc), p.captured), "the receipt signed again")

	other := record.Hash([]byte("another"))
	payer := w.shoppers[0]
	if payer == p.shopper {
		payer = w.shoppers[1]
	}
	for _, tt := range []struct {
		name   string
		edit   func(rc *record.Receipt)
		detail string
	}{
		{"kind", func(rc *record.Receipt) {
			rc.Kind, rc.RefundID, rc.RefundHash, rc.ConsentHash, rc.Lines, rc.Legs = record.ReceiptRefund, other[:16], other[:], nil, nil, nil
		}, "is of kind"},
		{"request", func(rc *record.Receipt) { rc.RequestID = other[:16] }, "names another request"},
		{"request hash", func(rc *record.Receipt) { rc.RequestHash = other[:] }, "names another request"},
		{"consent", func(rc *record.Receipt) { rc.ConsentHash = other[:] }, "names a consent its payer's card never signed"},
		{"amount", func(rc *record.Receipt) { rc.Amount++ }, fmt.Sprintf("says %d EUR, want %d EUR", p.captured+1, p.captured)},
		{"currency", func(rc *record.Receipt) { rc.Currency = "USD" }, fmt.Sprintf("says %d USD, want %d EUR", p.captured, p.captured)},
		{"payer", func(rc *record.Receipt) { rc.PayerCardID = payer.id }, "names other parties"},
		{"merchant", func(rc *record.Receipt) { rc.MerchantID = "shop-0" }, "names other parties"},
		{"asset", func(rc *record.Receipt) { rc.Legs = []record.Leg{{Asset: "ticket:other", Amount: 1}} },
			`has a leg of "ticket:other"`},
		{"tickets", func(rc *record.Receipt) { rc.Legs = []record.Leg{{Asset: ticketAsset, Amount: p.tickets + 1}} },
			fmt.Sprintf("moves %d tickets, want %d", p.tickets+1, p.tickets)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forged := rc
			tt.edit(&forged)
			var f *Failure
			if assert.ErrorAs(t, w.verifyReceipt(p, signedNow(t, w, forged), p.captured), &f) {
				assert.Contains(t, f.Detail, fmt.Sprintf("receipt of %v ", p.id))
				assert.Contains(t, f.Detail, tt.detail)
			}
		})
	}
}

// TestRefundReceiptFields runs a world until a payment is refunded and
// checks that a receipt of the refund, signed by the platform's key, is
// refused by the check of each field that names something else: its kind,
// the refund, the request, the amount.
func TestRefundReceiptFields(t *testing.T) {
	w := testWorld(t, 9)
	p := stepUntilOne(t, w, "refunded", func(q *purchase) bool { return len(q.refunds) > 0 })
	r := p.refunds[0]
	var rc record.Receipt
	require.NoError(t, record.Verify(r.view.Receipt, &w.receiptKeys[len(w.receiptKeys)-1].key.PublicKey, &rc))
	require.NoError(t, w.advance(time.Second))
	view := func(msg []byte) error {
		v := *r.view
		v.Receipt = msg
		return w.verifyRefundReceipt(p, r, &v)
	}
	require.NoError(t, view(signedNow(t, w, rc)), "the receipt signed again")

	other := record.Hash([]byte("another"))
	for _, tt := range []struct {
		name   string
		edit   func(rc *record.Receipt)
		detail string
	}{
		{"kind", func(rc *record.Receipt) {
			rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash = record.ReceiptPayment, other[:], nil, nil
		}, "is of kind"},
		{"refund", func(rc *record.Receipt) { rc.RefundID = other[:16] }, "names another refund"},
		{"refund hash", func(rc *record.Receipt) { rc.RefundHash = other[:] }, "names another refund"},
		{"request", func(rc *record.Receipt) { rc.RequestID = other[:16] }, fmt.Sprintf("says %d of %x", r.amount, other[:16])},
		{"amount", func(rc *record.Receipt) { rc.Amount++ }, fmt.Sprintf("says %d of %x", r.amount+1, p.id[:])},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forged := rc
			tt.edit(&forged)
			var f *Failure
			if assert.ErrorAs(t, view(signedNow(t, w, forged)), &f) {
				assert.Contains(t, f.Detail, fmt.Sprintf("refund receipt of %v ", r.id))
				assert.Contains(t, f.Detail, tt.detail)
			}
		})
	}
}
