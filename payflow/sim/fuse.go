package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
)

// errCrashed is what every store call returns once the simulated platform
// process has died.
var errCrashed = errors.New("sim: platform process crashed")

// errStoreFailed is what a store write returns that fails while the
// platform process runs on: a transient database error (the write not
// made), or an error reported after the write committed (a COMMIT whose
// acknowledgement was lost).
var errStoreFailed = errors.New("sim: store write failed")

// fuse fails the simulated platform's n-th store write. With kill set it
// kills the process there: the write is lost, or (afterCommit) it reaches
// the disk and the process dies before it learns so, and every later store
// call fails until the platform is restarted on new stores (a new fuse).
// Without it that write alone fails with errStoreFailed, made or not
// (afterCommit), and the process runs on. It is safe for concurrent use:
// the ledger's batcher writes from its own goroutine.
type fuse struct {
	mu          sync.Mutex
	armed       bool
	left        int
	afterCommit bool
	kill        bool
	fired       bool
	blown       bool
}

// arm makes the n-th next write (from 0) the last one: the process dies.
func (f *fuse) arm(n int, afterCommit bool) { f.set(n, afterCommit, true) }

// armFailure makes the n-th next write (from 0) fail, and the process run on.
func (f *fuse) armFailure(n int, afterCommit bool) { f.set(n, afterCommit, false) }

func (f *fuse) set(n int, afterCommit, kill bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.left, f.afterCommit, f.kill, f.fired = true, n, afterCommit, kill, false
}

// disarm cancels arm and reports whether the armed write failed.
func (f *fuse) disarm() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fired := f.fired
	f.armed, f.fired = false, false
	return fired
}

// read fails once the fuse blew.
func (f *fuse) read() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blown {
		return errCrashed
	}
	return nil
}

// write runs do unless the process is dead or dies now, or this write
// fails. A write that fails after it committed returns do's own error
// when do failed: then nothing committed, and the store said so.
func (f *fuse) write(do func() error) error {
	f.mu.Lock()
	if f.blown {
		f.mu.Unlock()
		return errCrashed
	}
	if f.armed {
		f.left--
		if f.left < 0 {
			f.armed, f.fired, f.blown = false, true, f.kill
			kill, commit := f.kill, f.afterCommit
			f.mu.Unlock()
			var err error
			if commit {
				err = do()
			}
			switch {
			case kill:
				return errCrashed
			case err != nil:
				return err
			}
			return errStoreFailed
		}
	}
	f.mu.Unlock()
	return do()
}

// ledgerStore is a ledger.Store behind a fuse.
type ledgerStore struct {
	ledger.Store
	f *fuse
}

func (s ledgerStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.f.write(func() error { return s.Store.Update(ctx, fn) })
}

func (s ledgerStore) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if err := s.f.read(); err != nil {
		return err
	}
	return s.Store.View(ctx, fn)
}

// Close leaves the inner store open: it outlives the process.
func (s ledgerStore) Close() error { return nil }

// durableState is the platform's state store: each of the stores that
// the simulation runs on (memory, sqlite, postgres) reads a reply's key
// without claiming it, as a platform's store in production does.
type durableState interface {
	payflow.Store
	payflow.ReplyReader
}

// stateStore is a payflow.Store behind a fuse, and a payflow.ReplyReader.
// It holds the inner store in a field rather than embedding it, so that
// every method of those interfaces is written out here, through the fuse:
// one it lacked would not compile, where an embedded store would answer
// it past the fuse.
type stateStore struct {
	inner durableState
	f     *fuse
}

var _ durableState = stateStore{}

func get[T any](f *fuse, do func() (T, error)) (T, error) {
	if err := f.read(); err != nil {
		var zero T
		return zero, err
	}
	return do()
}

func put[T any](f *fuse, do func() (T, error)) (T, error) {
	var out T
	err := f.write(func() error {
		var err error
		out, err = do()
		return err
	})
	return out, err
}

func (s stateStore) PutCard(ctx context.Context, c *payflow.CardRecord) error {
	return s.f.write(func() error { return s.inner.PutCard(ctx, c) })
}
func (s stateStore) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	return get(s.f, func() (*payflow.CardRecord, error) { return s.inner.Card(ctx, id) })
}
func (s stateStore) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	if err := s.f.read(); err != nil {
		return err
	}
	return s.inner.Cards(ctx, fn)
}
func (s stateStore) PutMerchant(ctx context.Context, m *payflow.Merchant) error {
	return s.f.write(func() error { return s.inner.PutMerchant(ctx, m) })
}
func (s stateStore) Merchant(ctx context.Context, id string) (*payflow.Merchant, error) {
	return get(s.f, func() (*payflow.Merchant, error) { return s.inner.Merchant(ctx, id) })
}
func (s stateStore) SetCatalog(ctx context.Context, id string, items []payflow.CatalogItem) error {
	return s.f.write(func() error { return s.inner.SetCatalog(ctx, id, items) })
}
func (s stateStore) Catalog(ctx context.Context, id string) ([]payflow.CatalogItem, error) {
	return get(s.f, func() ([]payflow.CatalogItem, error) { return s.inner.Catalog(ctx, id) })
}
func (s stateStore) PutAsset(ctx context.Context, a payflow.Asset) error {
	return s.f.write(func() error { return s.inner.PutAsset(ctx, a) })
}
func (s stateStore) Asset(ctx context.Context, name string) (payflow.Asset, error) {
	return get(s.f, func() (payflow.Asset, error) { return s.inner.Asset(ctx, name) })
}
func (s stateStore) Add(ctx context.Context, nonce []byte, expires time.Time) error {
	return s.f.write(func() error { return s.inner.Add(ctx, nonce, expires) })
}
func (s stateStore) Consume(ctx context.Context, nonce []byte, now time.Time) error {
	return s.f.write(func() error { return s.inner.Consume(ctx, nonce, now) })
}
func (s stateStore) Advance(ctx context.Context, cardID string, counter uint64) error {
	return s.f.write(func() error { return s.inner.Advance(ctx, cardID, counter) })
}
func (s stateStore) NonceKey(ctx context.Context, candidate []byte) ([]byte, error) {
	return put(s.f, func() ([]byte, error) { return s.inner.NonceKey(ctx, candidate) })
}
func (s stateStore) Spent(ctx context.Context, nonce []byte, cardID string, counter uint64) error {
	if err := s.f.read(); err != nil {
		return err
	}
	return s.inner.Spent(ctx, nonce, cardID, counter)
}
func (s stateStore) Accept(ctx context.Context, a *payflow.Acceptance) error {
	return s.f.write(func() error { return s.inner.Accept(ctx, a) })
}
func (s stateStore) Token(ctx context.Context, hash []byte) (*payflow.TokenRecord, error) {
	return get(s.f, func() (*payflow.TokenRecord, error) { return s.inner.Token(ctx, hash) })
}
func (s stateStore) Session(ctx context.Context, id payflow.ID) (*payflow.SessionRecord, error) {
	return get(s.f, func() (*payflow.SessionRecord, error) { return s.inner.Session(ctx, id) })
}
func (s stateStore) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	return get(s.f, func() (*payflow.PaymentRecord, error) { return s.inner.Payment(ctx, id) })
}
func (s stateStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	return s.f.write(func() error { return s.inner.UpdatePayment(ctx, p, from) })
}
func (s stateStore) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	return get(s.f, func() ([]*payflow.PaymentRecord, error) { return s.inner.DuePayments(ctx, state, t, limit) })
}
func (s stateStore) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	return s.f.write(func() error { return s.inner.UpdateRefund(ctx, r, from, p, pFrom) })
}
func (s stateStore) Refund(ctx context.Context, id payflow.ID) (*payflow.RefundRecord, error) {
	return get(s.f, func() (*payflow.RefundRecord, error) { return s.inner.Refund(ctx, id) })
}
func (s stateStore) DueRefunds(ctx context.Context, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	return get(s.f, func() ([]*payflow.RefundRecord, error) { return s.inner.DueRefunds(ctx, t, limit) })
}
func (s stateStore) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	return put(s.f, func() (*payflow.IdempotentReply, error) {
		return s.inner.BeginIdempotent(ctx, key, bodyHash, now, lease)
	})
}
func (s stateStore) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	return s.f.write(func() error { return s.inner.FinishIdempotent(ctx, key, lease, status, reply, expires) })
}
func (s stateStore) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	return s.f.write(func() error { return s.inner.AbandonIdempotent(ctx, key, lease) })
}
func (s stateStore) LookupIdempotent(ctx context.Context, key string, bodyHash []byte, now time.Time) (*payflow.IdempotentReply, error) {
	return get(s.f, func() (*payflow.IdempotentReply, error) {
		return s.inner.LookupIdempotent(ctx, key, bodyHash, now)
	})
}
func (s stateStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return put(s.f, func() (int, error) { return s.inner.DeleteExpired(ctx, now) })
}
