package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestReceiptContents: a capture's receipt and a refund's carry, signed
// with the platform key, its certificate chain (x5chain) and exactly the
// fields of PROTOCOL.md §6.6: the payment receipt the request ID and hash,
// the consent hash, the captured amount and currency, payer and merchant,
// the post transfer IDs in leg order, the priced lines, the legs and the
// settlement time in Unix milliseconds; the refund receipt the request ID
// and hash, the refund ID and hash, the amount and currency, payer and
// merchant, the refund's one transfer ID and the time. Later views return
// the stored receipt: the request's view, and the refund's to the same
// refund sent again.
func TestReceiptContents(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v := ticketRequest(t, s) // 2 apples (240 EUR) and 1 ticket
	s.Clock.Advance(time.Minute)
	consent := s.consent(t, v.ID)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, done.State)
	paidAt := s.Clock.Now()

	sr, err := record.DecodeReceipt(done.Receipt)
	require.NoError(t, err)
	assert.Equal(t, s.PlatformChain, sr.Chain(), "the receipt carries the platform's chain")
	money, ticket := payflow.TransferID(v.ID, 1, 0, 2), payflow.TransferID(v.ID, 1, 1, 2)
	ch := record.Hash(consent)
	assert.Equal(t, &record.Receipt{
		Kind: record.ReceiptPayment, RequestID: v.ID[:], RequestHash: v.RequestHash, ConsentHash: ch[:],
		Amount: 240, Currency: "EUR", PayerCardID: s.shopper.ID, MerchantID: merchantID,
		TransferIDs: [][]byte{money[:], ticket[:]},
		Lines:       []record.Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120}},
		Legs:        []record.Leg{{Asset: paytest.Ticket, Amount: 1}},
		Time:        uint64(paidAt.UnixMilli()),
	}, s.VerifiedReceipt(t, done.Receipt))

	s.Clock.Advance(time.Minute)
	refundID := payflow.ID{0x52, 0x45}
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: refundID[:], RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	sr, err = record.DecodeReceipt(rv.Receipt)
	require.NoError(t, err)
	assert.Equal(t, s.PlatformChain, sr.Chain(), "the refund receipt carries the platform's chain")
	tid, rh := payflow.TransferID(refundID, 0, 0, 4), record.Hash(msg)
	assert.Equal(t, &record.Receipt{
		Kind: record.ReceiptRefund, RequestID: v.ID[:], RequestHash: v.RequestHash,
		RefundID: refundID[:], RefundHash: rh[:], Amount: 100, Currency: "EUR",
		PayerCardID: s.shopper.ID, MerchantID: merchantID, TransferIDs: [][]byte{tid[:]},
		Time: uint64(s.Clock.Now().UnixMilli()),
	}, s.VerifiedReceipt(t, rv.Receipt))

	s.Clock.Advance(time.Minute)
	for _, token := range []string{s.shopper.Token, s.seller.Token} {
		pv, err := s.Platform.Payment(ctx, token, v.ID)
		require.NoError(t, err)
		assert.Equal(t, done.Receipt, pv.Receipt, "the request's view returns the stored receipt")
	}
	again, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, rv.Receipt, again.Receipt, "the same refund again returns the stored receipt")
}
