package payflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// writeCountingStore counts, by method, the calls of a Store's methods
// that write, each one transaction of a SQL store.
type writeCountingStore struct {
	payflow.Store
	mu     sync.Mutex
	writes map[string]int
}

func (s *writeCountingStore) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes[method]++
}

// reset returns the counts so far and starts counting anew.
func (s *writeCountingStore) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writes
	s.writes = map[string]int{}
	return w
}

func (s *writeCountingStore) PutCard(ctx context.Context, c *payflow.CardRecord) error {
	s.count("PutCard")
	return s.Store.PutCard(ctx, c)
}

func (s *writeCountingStore) PutMerchant(ctx context.Context, m *payflow.Merchant) error {
	s.count("PutMerchant")
	return s.Store.PutMerchant(ctx, m)
}

func (s *writeCountingStore) SetCatalog(ctx context.Context, merchantID string, items []payflow.CatalogItem) error {
	s.count("SetCatalog")
	return s.Store.SetCatalog(ctx, merchantID, items)
}

func (s *writeCountingStore) PutAsset(ctx context.Context, a payflow.Asset) error {
	s.count("PutAsset")
	return s.Store.PutAsset(ctx, a)
}

func (s *writeCountingStore) Add(ctx context.Context, nonce []byte, expires time.Time) error {
	s.count("Add")
	return s.Store.Add(ctx, nonce, expires)
}

func (s *writeCountingStore) Consume(ctx context.Context, nonce []byte, now time.Time) error {
	s.count("Consume")
	return s.Store.Consume(ctx, nonce, now)
}

func (s *writeCountingStore) Advance(ctx context.Context, cardID string, counter uint64) error {
	s.count("Advance")
	return s.Store.Advance(ctx, cardID, counter)
}

func (s *writeCountingStore) NonceKey(ctx context.Context, candidate []byte) ([]byte, error) {
	s.count("NonceKey")
	return s.Store.NonceKey(ctx, candidate)
}

func (s *writeCountingStore) Accept(ctx context.Context, a *payflow.Acceptance) error {
	s.count("Accept")
	return s.Store.Accept(ctx, a)
}

func (s *writeCountingStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	s.count("UpdatePayment")
	return s.Store.UpdatePayment(ctx, p, from)
}

func (s *writeCountingStore) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	s.count("UpdateRefund")
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

func (s *writeCountingStore) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	s.count("BeginIdempotent")
	return s.Store.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

func (s *writeCountingStore) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	s.count("FinishIdempotent")
	return s.Store.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

func (s *writeCountingStore) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	s.count("AbandonIdempotent")
	return s.Store.AbandonIdempotent(ctx, key, lease)
}

func (s *writeCountingStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	s.count("DeleteExpired")
	return s.Store.DeleteExpired(ctx, now)
}

// TestPurchaseTransactions: a purchase (two logins, two pairings, the
// request, the consent and its capture) commits 7 platform transactions,
// each an acceptance of a card-signed record but the capture's, and 1
// ledger transaction, the hold and its post linked (PROTOCOL.md §6.7).
func TestPurchaseTransactions(t *testing.T) {
	st := &writeCountingStore{Store: memory.New(), writes: map[string]int{}}
	lc := &countingLedger{Store: ledgermemory.New()}
	s := paytest.NewShop(paytest.NewFixture(t, st, lc, paytest.Options{}), false)
	st.reset()
	lc.updates.Store(0)
	require.NoError(t, s.Purchase(context.Background()))
	assert.Equal(t, map[string]int{"Accept": 6, "UpdatePayment": 1}, st.reset(), "platform transactions")
	assert.Equal(t, int32(1), lc.updates.Load(), "ledger transactions")
}
