package payflow_test

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/payflow"
)

// plan says which calls of one method a fault fails: of the calls
// that when picks (every call when nil), the first skip go through, then
// the next fails fail (every one from then on when fails is negative),
// each with err (errLost when nil); then, when set, runs as each fails.
// The zero plan fails no call.
type plan[C any] struct {
	when  func(C) bool
	skip  int
	fails int
	err   error
	then  func()
}

// callFault fails the calls of one method (of payflow's store, the
// ledger's, or the API) that its plan picks, and keeps the calls made,
// failed or not. Its zero value fails none; it is safe for concurrent
// use.
type callFault[C any] struct {
	mu    sync.Mutex
	p     plan[C]
	calls []C
}

// made returns the calls made so far, failed or not.
func (f *callFault[C]) made() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// seen returns the calls made so far, failed or not, in order.
func (f *callFault[C]) seen() []C {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// arm replaces f's plan with p.
func (f *callFault[C]) arm(p plan[C]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p = p
}

// failNext has f fail the next call only.
func (f *callFault[C]) failNext() { f.arm(plan[C]{fails: 1}) }

// failAll has f fail every later call, until it is armed again.
func (f *callFault[C]) failAll() { f.arm(plan[C]{fails: -1}) }

// failNextWith has f fail the next call only, with err.
func (f *callFault[C]) failNextWith(err error) { f.arm(plan[C]{fails: 1, err: err}) }

// failAllWith has f fail every later call with err, until it is armed
// again.
func (f *callFault[C]) failAllWith(err error) { f.arm(plan[C]{fails: -1, err: err}) }

// disarm has every later call go through.
func (f *callFault[C]) disarm() { f.arm(plan[C]{}) }

// strike returns the error of the call c, nil for one that goes through,
// and counts c against f's plan.
func (f *callFault[C]) strike(c C) error {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	p := &f.p
	if p.fails == 0 || p.when != nil && !p.when(c) {
		f.mu.Unlock()
		return nil
	}
	if p.skip > 0 {
		p.skip--
		f.mu.Unlock()
		return nil
	}
	if p.fails > 0 {
		p.fails--
	}
	err, then := p.err, p.then
	f.mu.Unlock()
	if then != nil {
		then()
	}
	if err == nil {
		err = errLost
	}
	return err
}

// paymentUpdate is a call of UpdatePayment: the record written and the
// state it must be in.
type paymentUpdate struct {
	p    *payflow.PaymentRecord
	from string
}

// faultStore is a Store whose calls of the methods below fail as the
// fault of that method says, as a dropped database connection (or a
// compare-and-set lost to another writer) fails them; a call that fails
// does not reach the Store.
type faultStore struct {
	payflow.Store
	payment, refund, session       callFault[payflow.ID]
	card, merchant, catalog, asset callFault[string]
	cards                          callFault[struct{}]
	spent                          callFault[string] // by card ID
	token                          callFault[[]byte]
	putMerchant                    callFault[*payflow.Merchant]
	accept                         callFault[*payflow.Acceptance]
	updatePayment                  callFault[paymentUpdate]
	updateRefund                   callFault[*payflow.RefundRecord]
	dueRefunds                     callFault[time.Time]
}

func (s *faultStore) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if err := s.payment.strike(id); err != nil {
		return nil, err
	}
	return s.Store.Payment(ctx, id)
}

func (s *faultStore) Refund(ctx context.Context, id payflow.ID) (*payflow.RefundRecord, error) {
	if err := s.refund.strike(id); err != nil {
		return nil, err
	}
	return s.Store.Refund(ctx, id)
}

func (s *faultStore) Session(ctx context.Context, id payflow.ID) (*payflow.SessionRecord, error) {
	if err := s.session.strike(id); err != nil {
		return nil, err
	}
	return s.Store.Session(ctx, id)
}

func (s *faultStore) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if err := s.card.strike(id); err != nil {
		return nil, err
	}
	return s.Store.Card(ctx, id)
}

func (s *faultStore) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	if err := s.cards.strike(struct{}{}); err != nil {
		return err
	}
	return s.Store.Cards(ctx, fn)
}

func (s *faultStore) Spent(ctx context.Context, nonce []byte, cardID string, counter uint64) error {
	if err := s.spent.strike(cardID); err != nil {
		return err
	}
	return s.Store.Spent(ctx, nonce, cardID, counter)
}

func (s *faultStore) Token(ctx context.Context, hash []byte) (*payflow.TokenRecord, error) {
	if err := s.token.strike(hash); err != nil {
		return nil, err
	}
	return s.Store.Token(ctx, hash)
}

func (s *faultStore) PutMerchant(ctx context.Context, m *payflow.Merchant) error {
	if err := s.putMerchant.strike(m); err != nil {
		return err
	}
	return s.Store.PutMerchant(ctx, m)
}

func (s *faultStore) Merchant(ctx context.Context, id string) (*payflow.Merchant, error) {
	if err := s.merchant.strike(id); err != nil {
		return nil, err
	}
	return s.Store.Merchant(ctx, id)
}

func (s *faultStore) Catalog(ctx context.Context, merchantID string) ([]payflow.CatalogItem, error) {
	if err := s.catalog.strike(merchantID); err != nil {
		return nil, err
	}
	return s.Store.Catalog(ctx, merchantID)
}

func (s *faultStore) Asset(ctx context.Context, name string) (payflow.Asset, error) {
	if err := s.asset.strike(name); err != nil {
		return payflow.Asset{}, err
	}
	return s.Store.Asset(ctx, name)
}

func (s *faultStore) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if err := s.accept.strike(a); err != nil {
		return err
	}
	return s.Store.Accept(ctx, a)
}

func (s *faultStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if err := s.updatePayment.strike(paymentUpdate{p, from}); err != nil {
		return err
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

func (s *faultStore) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if err := s.updateRefund.strike(r); err != nil {
		return err
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

func (s *faultStore) DueRefunds(ctx context.Context, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	if err := s.dueRefunds.strike(t); err != nil {
		return nil, err
	}
	return s.Store.DueRefunds(ctx, t, limit)
}

// loseNextUpdateFrom has the next update of a payment from state from on
// st fail with errLost, as a dropped connection would, and the later
// updates go through.
func loseNextUpdateFrom(st *faultStore, from string) {
	st.updatePayment.arm(plan[paymentUpdate]{when: func(u paymentUpdate) bool { return u.from == from }, fails: 1})
}

// failCard has the reads of card id on s fail with errLost, until
// s.card is armed again.
func failCard(s *faultStore, id string) {
	s.card.arm(plan[string]{when: func(c string) bool { return c == id }, fails: -1})
}
