package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// transferRestatedAPI answers the refunds, while on, with their receipt
// signed again with key, its transfer IDs altered by alter, as a platform
// that misstates the ledger transfer of a refund would.
type transferRestatedAPI struct {
	payflow.API
	tb    testing.TB
	key   *ecdsa.PrivateKey
	alter func(rc *record.Receipt)
	on    atomic.Bool
}

func (a *transferRestatedAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	v, err := a.API.Refund(ctx, req)
	if err != nil || !a.on.Load() {
		return v, err
	}
	c := *v
	c.Receipt, err = resignReceipt(a.key, v.Receipt, a.alter)
	require.NoError(a.tb, err)
	return &c, nil
}

// TestSellerRefusesRefundReceiptOfOtherTransfers: a refund receipt signed
// with the platform's key whose transfer IDs are not the one transfer that
// the platform derives from the refund ID (payflow.TransferID of the
// refund ID, attempt 0, leg 0, kind 4) is ErrMismatch, the refund made
// once and kept: the next Refund of the same request and amount sends it
// again and, answered with the receipt that the platform holds, returns
// that receipt, the card signing nothing more and nothing refunded again.
func TestSellerRefusesRefundReceiptOfOtherTransfers(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		alter func(rc *record.Receipt, request payflow.ID)
	}{
		{"another ID", func(rc *record.Receipt, _ payflow.ID) { rc.TransferIDs[0][0] ^= 1 }},
		{"of another attempt", func(rc *record.Receipt, _ payflow.ID) {
			id := payflow.TransferID(payflow.ID(rc.RefundID), 1, 0, 4)
			rc.TransferIDs[0] = id[:]
		}},
		{"the payment's post", func(rc *record.Receipt, request payflow.ID) {
			id := payflow.TransferID(request, 1, 0, 2)
			rc.TransferIDs[0] = id[:]
		}},
		{"one more", func(rc *record.Receipt, request payflow.ID) {
			id := payflow.TransferID(request, 1, 0, 2)
			rc.TransferIDs = append(rc.TransferIDs, id[:])
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &transferRestatedAPI{API: w.f.Platform, tb: t, key: w.f.Key}
			w.useSeller(t, api)
			w.pair(t)
			w.purchase(t)
			paid, err := w.seller.Status(ctx)
			require.NoError(t, err)
			api.alter = func(rc *record.Receipt) { tt.alter(rc, paid.ID) }
			api.on.Store(true)
			counter := cardCounter(t, w.sellerCard)

			rc, err := w.seller.Refund(ctx, 100)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			assert.Equal(t, counter+1, cardCounter(t, w.sellerCard), "the card signed one refund")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 100}, w.balance(t, w.shopperCard.Enrolment.ICCID), "refunded once")

			api.on.Store(false)
			rc, err = w.seller.Refund(ctx, 100)
			require.NoError(t, err, "the refund kept, sent again")
			want := payflow.TransferID(payflow.ID(rc.RefundID), 0, 0, 4)
			assert.Equal(t, [][]byte{want[:]}, rc.TransferIDs)
			assert.Equal(t, counter+1, cardCounter(t, w.sellerCard), "the card signed nothing more")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 100}, w.balance(t, w.shopperCard.Enrolment.ICCID), "not refunded again")
		})
	}
}
