package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestCreateRequestMerchantReadLost: a payment request whose merchant the
// platform (keeping no cache) cannot read fails with the store's error:
// before its checks, nothing is stored; after it stored the request, as
// it renders the view, the request is stored pending. Either way the same
// signed request sent again gets the pending view, and nothing moved.
func TestCreateRequestMerchantReadLost(t *testing.T) {
	for _, tt := range []struct {
		name   string
		lose   int
		stored bool
	}{
		{"checks", 1, false},
		{"view", 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := &faultStore{Store: memory.New()}
			s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
			before := s.balances(t)
			r := paytest.Request(s.session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1})
			msg := s.seller.MustSign(r)
			id := payflow.ID(r.RequestID)
			st.merchant.arm(plan[string]{skip: tt.lose - 1, fails: 1}) // the read numbered lose (1: the next) fails

			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			require.ErrorIs(t, err, errLost)
			if tt.stored {
				s.requireState(t, id, payflow.StatePending)
			} else {
				_, err := s.Store.Payment(ctx, id)
				require.ErrorIs(t, err, payflow.ErrNotFound)
			}

			v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, v.State)
			assert.Equal(t, id, v.ID)
			assert.Equal(t, before, s.balances(t))
		})
	}
}
