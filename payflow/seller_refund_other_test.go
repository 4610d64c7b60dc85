package payflow_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// otherReceiptRefundAPI passes the refunds on to the platform and keeps
// the view of the first one made; with lose set, it loses the reply of
// the next refund made (ErrUnavailable), and while other is set, it
// answers that refund, also as it makes it, with the first one's view,
// which carries a verified receipt of another refund.
type otherReceiptRefundAPI struct {
	payflow.API
	mu    sync.Mutex
	first *payflow.RefundView
	lose  bool
	lost  []byte
	other bool
}

func (a *otherReceiptRefundAPI) set(fn func(a *otherReceiptRefundAPI)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a)
}

func (a *otherReceiptRefundAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.other && bytes.Equal(req.Refund, a.lost) {
		return a.first, nil
	}
	v, err := a.API.Refund(ctx, req)
	if err != nil {
		return nil, err
	}
	if a.first == nil {
		a.first = v
	}
	if a.lose {
		a.lose, a.lost = false, req.Refund
		if a.other {
			return a.first, nil
		}
		return nil, payflow.ErrUnavailable
	}
	return v, nil
}

// TestSellerKeptRefundAnsweredWithAnotherReceipt: a refund that the
// platform answers with a verified receipt of another refund, as it makes
// it or sent again after its reply was lost, fails that Refund with
// ErrMismatch once, whose message says that the refund sent may have
// been made and is kept, and stays kept: the Refunds after it send it again
// first and, answered so again, pass it over, still kept, and make their
// own refunds; once the platform answers it with its own receipt, a
// Refund of its request and amount returns that receipt, the shopper
// refunded once.
func TestSellerKeptRefundAnsweredWithAnotherReceipt(t *testing.T) {
	ctx := context.Background()
	for _, lost := range []bool{true, false} {
		t.Run(map[bool]string{true: "reply lost", false: "answered as made"}[lost], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &otherReceiptRefundAPI{API: w.f.Platform}
			w.useSeller(t, api)
			w.pair(t)
			w.purchase(t)
			shopperBalance := func() payflow.Balance { return w.balance(t, w.shopperCard.Enrolment.ICCID) }

			rc, err := w.seller.Refund(ctx, 100)
			require.NoError(t, err)
			require.Equal(t, uint64(100), rc.Amount)
			api.set(func(a *otherReceiptRefundAPI) { a.lose, a.other = true, !lost })
			_, err = w.seller.Refund(ctx, 240)
			if lost {
				require.ErrorIs(t, err, payflow.ErrUnavailable)
				api.set(func(a *otherReceiptRefundAPI) { a.other = true })
				_, err = w.seller.Refund(ctx, 240)
			}
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Contains(t, err.Error(), "the refund of 240 of request ", "names the refund sent")
			assert.Contains(t, err.Error(), "may have been made", "tells that the refund sent may have been made")
			assert.Contains(t, err.Error(), "the phone keeps it", "tells that the phone keeps it")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 340}, shopperBalance(), "the refund of 240 was made once")

			rc, err = w.seller.Refund(ctx, 50)
			require.NoError(t, err, "the kept refund, reported once, is passed over")
			assert.Equal(t, uint64(50), rc.Amount)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 390}, shopperBalance())

			api.set(func(a *otherReceiptRefundAPI) { a.other = false })
			rc, err = w.seller.Refund(ctx, 240)
			require.NoError(t, err)
			assert.Equal(t, uint64(240), rc.Amount)
			api.mu.Lock()
			h := record.Hash(api.lost)
			api.mu.Unlock()
			assert.Equal(t, h[:], rc.RefundHash, "the receipt of the kept refund")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 390}, shopperBalance(), "the kept refund was not made again")
		})
	}
}
