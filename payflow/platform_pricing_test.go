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

// TestPricingLimits: a request whose line (quantity × unit price) or
// whose sum of lines passes 2^63-1 is ErrInvalid, also when the product
// or the sum wraps around 2^64 to a small number; one whose total is
// exactly 2^63-1, or whose line is, is priced as any other (PROTOCOL.md §6.3).
func TestPricingLimits(t *testing.T) {
	ctx := context.Background()
	const half = 1 << 62 // 2^62
	for _, tt := range []struct {
		name   string
		amount uint64
		items  []record.Item
		err    error
	}{
		{"line past the limit", 1, []record.Item{{SKU: "half", Quantity: 2}}, payflow.ErrInvalid},
		{"line wrapping to zero", 1, []record.Item{{SKU: "half", Quantity: 4}}, payflow.ErrInvalid},
		{"line wrapping to its amount", 2, []record.Item{{SKU: "wrap", Quantity: (1<<64 + 2) / 3}}, payflow.ErrInvalid}, // 3 × q = 2^64 + 2
		{"lines summing past the limit", 1, []record.Item{{SKU: "half", Quantity: 1}, {SKU: "half", Quantity: 1}}, payflow.ErrInvalid},
		{"many lines summing past the limit", record.MaxAmount, manyLines(100, "max", 1), payflow.ErrInvalid},
		{"lines summing to the limit", record.MaxAmount, []record.Item{{SKU: "half", Quantity: 1}, {SKU: "halfless", Quantity: 1}}, nil},
		{"line at the limit", record.MaxAmount, []record.Item{{SKU: "max", Quantity: 1}}, nil},
		{"items total other than the amount", 100, []record.Item{{SKU: "apple", Quantity: 1}}, payflow.ErrMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, append(paytest.Catalog[:len(paytest.Catalog):len(paytest.Catalog)],
				payflow.CatalogItem{SKU: "half", Name: "Half", UnitPrice: half},
				payflow.CatalogItem{SKU: "halfless", Name: "Half less one", UnitPrice: half - 1},
				payflow.CatalogItem{SKU: "max", Name: "Max", UnitPrice: record.MaxAmount},
				payflow.CatalogItem{SKU: "wrap", Name: "Wrap", UnitPrice: 3},
			)))
			v, err := s.Create(paytest.Request(s.session, "EUR", tt.amount, tt.items...))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.amount, v.Amount)
		})
	}
}

func manyLines(n int, sku string, q uint64) []record.Item {
	items := make([]record.Item, n)
	for i := range items {
		items[i] = record.Item{SKU: sku, Quantity: q}
	}
	return items
}

// TestPriceChangeAfterRequest: a catalog price changed between the
// request and the consent changes nothing of the payment: the payer is
// charged the request's amount, and the receipt carries the lines as
// priced when the request was made.
func TestPriceChangeAfterRequest(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, []payflow.CatalogItem{
		{SKU: "apple", Name: "Apple", UnitPrice: 999},
		{SKU: "bread", Name: "Sourdough bread", UnitPrice: 1},
	}))
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	assert.Equal(t, uint64(690), done.Captured)
	assert.Equal(t, basketPaid, s.balances(t))
	rc := s.VerifiedReceipt(t, done.Receipt)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, []record.Line{
		{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120},
		{SKU: "bread", Name: "Sourdough bread", Quantity: 1, UnitPrice: 450},
	}, rc.Lines)
}

// TestRequestTTLCapped: a request asking for a lifetime (TTL) longer than
// DefaultMaxRequestTTL expires DefaultMaxRequestTTL after its creation;
// one asking for less expires when it asks.
func TestRequestTTLCapped(t *testing.T) {
	for _, tt := range []struct {
		ttl  uint32
		want time.Duration
	}{
		{uint32(payflow.DefaultMaxRequestTTL/time.Second) + 60, payflow.DefaultMaxRequestTTL},
		{60, time.Minute},
	} {
		s := newShop(t, false, paytest.Options{})
		r := paytest.Request(s.session, "EUR", 690)
		r.TTL = tt.ttl
		v, err := s.Create(r)
		require.NoError(t, err)
		assert.Equal(t, s.Clock.Now().Add(tt.want), v.ExpiresAt, "TTL %d s", tt.ttl)
	}
}
