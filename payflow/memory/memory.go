// Package memory is the in-memory payflow.Store: maps behind one lock. It
// passes the same conformance suite as the SQL stores (payflow/paytest)
// and is the store of tests and of the simulation (payflow/sim, unless it
// is given a database); nothing survives the process.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
)

// Store is a payflow.Store in memory. It keeps every time on the wall clock
// only, as the SQL stores do (wallClock). The zero value is not usable:
// call New. It is safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	cards     map[string]*payflow.CardRecord
	merchants map[string]*payflow.Merchant
	catalogs  map[string][]payflow.CatalogItem
	assets    map[string]payflow.Asset
	nonces    map[string]time.Time
	used      map[string]time.Time // nonces marked used by Accept
	nonceKey  []byte
	counters  map[string]uint64
	tokens    map[string]*payflow.TokenRecord
	sessions  map[payflow.ID]*payflow.SessionRecord
	payments  map[payflow.ID]*payflow.PaymentRecord
	// bySession holds the payment requests of each session ID that are
	// pending or approving (cancelPendingLocked), as inserted.
	bySession map[payflow.ID][]payflow.ID
	refunds   map[payflow.ID]*payflow.RefundRecord

	replies *payflow.ReplyMemory // the idempotent replies, under their own lock

	beforeReplies  func() // called, when set, by DeleteExpired once the lock is released, before the replies are swept
	betweenBatches func() // called, when set, between two batches of DeleteExpired's sweep, the lock released
}

var _ payflow.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		cards:     make(map[string]*payflow.CardRecord),
		merchants: make(map[string]*payflow.Merchant),
		catalogs:  make(map[string][]payflow.CatalogItem),
		assets:    make(map[string]payflow.Asset),
		nonces:    make(map[string]time.Time),
		used:      make(map[string]time.Time),
		counters:  make(map[string]uint64),
		tokens:    make(map[string]*payflow.TokenRecord),
		sessions:  make(map[payflow.ID]*payflow.SessionRecord),
		payments:  make(map[payflow.ID]*payflow.PaymentRecord),
		bySession: make(map[payflow.ID][]payflow.ID),
		refunds:   make(map[payflow.ID]*payflow.RefundRecord),
		replies:   payflow.NewReplyMemory(),
	}
}

// wallClock strips the monotonic clock reading from each time that ts
// point to (time.Time.Round(0)). The store keeps every time so, at the
// point of writing it, as the SQL stores keep them: its expiries, leases
// and due times then compare with the times of later calls on the wall
// clock, as theirs do, even when both carry a reading of the monotonic
// clock (time.Now), which a machine's suspension or a change of its wall
// clock puts apart from the wall clock.
func wallClock(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.Round(0)
	}
}

// copyCard returns a copy of c sharing nothing with it; a nil chain stays
// nil, as the SQL stores read it back.
func copyCard(c *payflow.CardRecord) *payflow.CardRecord {
	n := *c
	n.Chain = slices.Clone(c.Chain)
	for i, b := range n.Chain {
		n.Chain[i] = bytes.Clone(b)
	}
	n.AdvSecret = bytes.Clone(c.AdvSecret)
	return &n
}

// PutCard implements payflow.Store.
func (s *Store) PutCard(_ context.Context, c *payflow.CardRecord) error {
	if err := payflow.CheckCard(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.cards {
		if id != c.ID && subtle.ConstantTimeCompare(o.AdvSecret, c.AdvSecret) == 1 {
			return payflow.ErrConflict
		}
	}
	n := copyCard(c)
	wallClock(&n.EnrolledAt)
	if old, ok := s.cards[c.ID]; ok && n.MerchantID == "" {
		n.MerchantID = old.MerchantID
	}
	if old, ok := s.cards[c.ID]; ok && payflow.Reenrolled(old, c) {
		s.withdrawLocked(c.ID, c.EnrolledAt)
	}
	s.cards[c.ID] = n
	return nil
}

// withdrawLocked deletes the sessions of card id and cancels the payment
// requests that it signed or would pay that are pending and unexpired at
// t (payflow.Store's PutCard of a card with a new certificate or
// advertising secret).
func (s *Store) withdrawLocked(id string, t time.Time) {
	for sid, r := range s.sessions {
		if r.ShopperCardID == id || r.SellerCardID == id {
			delete(s.sessions, sid)
		}
	}
	for _, p := range s.payments {
		if p.State == payflow.StatePending && p.ExpiresAt.After(t) && (p.SellerCardID == id || p.PayerCardID == id) {
			n := copyPayment(p)
			n.State, n.UpdatedAt = payflow.StateCancelled, t
			s.writePaymentLocked(n)
		}
	}
}

// Card implements payflow.Store.
func (s *Store) Card(_ context.Context, id string) (*payflow.CardRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[id]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	return copyCard(c), nil
}

// Cards implements payflow.Store.
func (s *Store) Cards(_ context.Context, fn func(*payflow.CardRecord) error) error {
	s.mu.Lock()
	list := make([]*payflow.CardRecord, 0, len(s.cards))
	for _, c := range s.cards {
		list = append(list, copyCard(c))
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *payflow.CardRecord) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range list {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// PutMerchant implements payflow.Store.
func (s *Store) PutMerchant(_ context.Context, m *payflow.Merchant) error {
	if err := payflow.CheckMerchant(m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.merchants[m.ID]; ok && old.Currency != m.Currency {
		return payflow.ErrConflict
	}
	for _, id := range m.SellerCardIDs {
		if _, ok := s.cards[id]; !ok {
			return payflow.ErrNotFound
		}
	}
	n := *m
	n.SellerCardIDs = nil
	s.merchants[m.ID] = &n
	for _, c := range s.cards {
		if c.MerchantID == m.ID {
			c.MerchantID = ""
		}
	}
	for _, id := range m.SellerCardIDs {
		s.cards[id].MerchantID = m.ID
	}
	return nil
}

// Merchant implements payflow.Store.
func (s *Store) Merchant(_ context.Context, id string) (*payflow.Merchant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.merchants[id]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	n := *m
	for _, c := range s.cards {
		if c.MerchantID == id {
			n.SellerCardIDs = append(n.SellerCardIDs, c.ID)
		}
	}
	slices.Sort(n.SellerCardIDs)
	return &n, nil
}

// SetCatalog implements payflow.Store.
func (s *Store) SetCatalog(_ context.Context, merchantID string, items []payflow.CatalogItem) error {
	if err := payflow.CheckCatalog(items); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.merchants[merchantID]; !ok {
		return payflow.ErrNotFound
	}
	c := slices.Clone(items)
	slices.SortFunc(c, func(a, b payflow.CatalogItem) int { return cmp.Compare(a.SKU, b.SKU) })
	for i := 1; i < len(c); i++ {
		if c[i].SKU == c[i-1].SKU {
			return payflow.ErrConflict
		}
	}
	s.catalogs[merchantID] = c
	return nil
}

// Catalog implements payflow.Store.
func (s *Store) Catalog(_ context.Context, merchantID string) ([]payflow.CatalogItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.merchants[merchantID]; !ok {
		return nil, payflow.ErrNotFound
	}
	return append([]payflow.CatalogItem{}, s.catalogs[merchantID]...), nil
}

// PutAsset implements payflow.Store.
func (s *Store) PutAsset(_ context.Context, a payflow.Asset) error {
	if err := payflow.StorableText(a.Name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.assets {
		if (o.Name == a.Name) != (o.Ledger == a.Ledger) {
			return payflow.ErrConflict
		}
	}
	s.assets[a.Name] = a
	return nil
}

// Asset implements payflow.Store.
func (s *Store) Asset(_ context.Context, name string) (payflow.Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.assets[name]
	if !ok {
		return payflow.Asset{}, payflow.ErrNotFound
	}
	return a, nil
}

// Add implements pki.NonceStore.
func (s *Store) Add(_ context.Context, nonce []byte, expires time.Time) error {
	if err := payflow.CheckNonce(nonce, expires); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nonces[string(nonce)]; ok {
		return payflow.ErrConflict
	}
	wallClock(&expires)
	s.nonces[string(nonce)] = expires
	return nil
}

// Consume implements pki.NonceStore.
func (s *Store) Consume(_ context.Context, nonce []byte, now time.Time) error {
	if err := payflow.CheckNow(now); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.nonces[string(nonce)]
	if !ok {
		return pki.ErrNonce
	}
	delete(s.nonces, string(nonce))
	if expired(exp, now) {
		return pki.ErrNonce
	}
	return nil
}

// Advance implements pki.CounterStore.
func (s *Store) Advance(_ context.Context, cardID string, counter uint64) error {
	if err := payflow.StorableCardID(cardID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkCounterLocked(cardID, counter); err != nil {
		return err
	}
	s.counters[cardID] = counter
	return nil
}

// checkCounterLocked returns the *pki.CounterError of a counter that may
// not advance the card's: not above the one held, or above 2^63-1.
func (s *Store) checkCounterLocked(cardID string, counter uint64) error {
	if counter > math.MaxInt64 {
		return &pki.CounterError{CardID: cardID, Last: math.MaxInt64, Got: counter}
	}
	if last := s.counters[cardID]; counter <= last {
		return &pki.CounterError{CardID: cardID, Last: last, Got: counter}
	}
	return nil
}

// NonceKey implements payflow.Store.
func (s *Store) NonceKey(_ context.Context, candidate []byte) ([]byte, error) {
	if err := payflow.CheckNonceKey(candidate); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonceKey == nil {
		s.nonceKey = bytes.Clone(candidate)
	}
	return bytes.Clone(s.nonceKey), nil
}

// Spent implements payflow.Store.
func (s *Store) Spent(_ context.Context, nonce []byte, cardID string, counter uint64) error {
	if err := payflow.StorableCardID(cardID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spentLocked(nonce, cardID, counter)
}

// spentLocked returns pki.ErrNonce when nonce (when not nil) is marked
// used, else the error of checkCounterLocked: Accept's checks of a
// record's nonce and counter, in its order.
func (s *Store) spentLocked(nonce []byte, cardID string, counter uint64) error {
	if nonce != nil {
		if _, ok := s.used[string(nonce)]; ok {
			return pki.ErrNonce
		}
	}
	return s.checkCounterLocked(cardID, counter)
}

// Accept implements payflow.Store: every check first, then every write.
func (s *Store) Accept(_ context.Context, a *payflow.Acceptance) error {
	if err := a.Check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.spentLocked(a.Nonce, a.CardID, a.Counter); err != nil {
		return err
	}
	var stored *payflow.RefundRecord // a refund stored before under a.Refund's ID
	if a.Refund != nil {
		stored = s.refunds[a.Refund.ID]
	}
	switch {
	case a.Token != nil:
		if _, ok := s.tokens[string(a.Token.Hash)]; ok {
			return payflow.ErrConflict
		}
	case a.Session != nil:
		if old, ok := s.sessions[a.Session.ID]; ok {
			if err := payflow.CheckSessionParties(old, a); err != nil {
				return err
			}
		}
	case stored != nil: // no write
	case a.Update != nil:
		if err := s.casPaymentLocked(a.Update, a.From); err != nil {
			return err
		}
	}
	if a.Nonce != nil {
		expires := a.NonceExpires
		wallClock(&expires)
		s.used[string(a.Nonce)] = expires
	}
	s.counters[a.CardID] = a.Counter
	switch {
	case a.Token != nil:
		n := copyToken(a.Token)
		wallClock(&n.ExpiresAt)
		s.tokens[string(a.Token.Hash)] = n
	case a.Session != nil:
		if old, ok := s.sessions[a.Session.ID]; ok && !old.ExpiresAt.After(a.Now) {
			a.Session = copySession(old) // expired: left as it is
			break
		}
		a.Session = s.confirmSessionLocked(a.Session)
		if a.CancelPending {
			s.cancelPendingLocked(a.Session.ID, a.Now)
		}
	case a.Insert != nil:
		a.Insert = s.insertPaymentLocked(a.Insert)
	case stored != nil:
		a.Refund = copyRefund(stored)
	case a.Refund != nil:
		s.writePaymentLocked(a.Update)
		a.Refund.Version = 1
		n := copyRefund(a.Refund)
		wallClock(&n.CreatedAt, &n.DeferredTo)
		s.refunds[a.Refund.ID] = n
	case a.Update != nil:
		s.writePaymentLocked(a.Update)
	}
	return nil
}

// Token implements payflow.Store.
func (s *Store) Token(_ context.Context, hash []byte) (*payflow.TokenRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	return copyToken(t), nil
}

func copyToken(t *payflow.TokenRecord) *payflow.TokenRecord {
	n := *t
	n.Hash = bytes.Clone(t.Hash)
	n.CertHash = bytes.Clone(t.CertHash)
	return &n
}

func copySession(s *payflow.SessionRecord) *payflow.SessionRecord {
	n := *s
	n.ShopperEID = bytes.Clone(s.ShopperEID)
	n.SellerEID = bytes.Clone(s.SellerEID)
	return &n
}

func (s *Store) confirmSessionLocked(r *payflow.SessionRecord) *payflow.SessionRecord {
	old, ok := s.sessions[r.ID]
	if !ok {
		n := copySession(r)
		wallClock(&n.ExpiresAt)
		s.sessions[r.ID] = n
		return copySession(n)
	}
	old.ShopperConfirmed = old.ShopperConfirmed || r.ShopperConfirmed
	old.SellerConfirmed = old.SellerConfirmed || r.SellerConfirmed
	return copySession(old)
}

// Session implements payflow.Store.
func (s *Store) Session(_ context.Context, id payflow.ID) (*payflow.SessionRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	return copySession(r), nil
}

// optional returns a copy of an optional field, nil when it is empty, as
// the SQL stores keep it.
func optional[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// storedPayment returns a copy of p as the store keeps it: sharing nothing
// with p, its times on the wall clock only.
func storedPayment(p *payflow.PaymentRecord) *payflow.PaymentRecord {
	n := copyPayment(p)
	wallClock(&n.ExpiresAt, &n.CreatedAt, &n.UpdatedAt, &n.HoldExpiresAt, &n.SettledAt, &n.DeferredTo)
	return n
}

func copyPayment(p *payflow.PaymentRecord) *payflow.PaymentRecord {
	n := *p
	n.Lines = optional(p.Lines)
	n.Legs = optional(p.Legs)
	n.Request = bytes.Clone(p.Request)
	n.RequestHash = bytes.Clone(p.RequestHash)
	n.Consent = optional(p.Consent)
	n.ConsentHash = optional(p.ConsentHash)
	n.Receipt = optional(p.Receipt)
	return &n
}

func (s *Store) insertPaymentLocked(p *payflow.PaymentRecord) *payflow.PaymentRecord {
	if old, ok := s.payments[p.ID]; ok {
		return copyPayment(old)
	}
	n := storedPayment(p)
	n.Version = 1
	s.payments[p.ID] = n
	s.bySession[p.SessionID] = append(s.bySession[p.SessionID], p.ID)
	return copyPayment(n)
}

// cancelPendingLocked cancels the payment requests of session id that are
// pending and unexpired at t, and marks those whose approval is under way
// (Acceptance.CancelPending). The session's list holds only the requests
// that may be so: pending ones, and those whose approval is under way,
// which a refused hold sets back to pending (open). A write that takes a
// request out of both states takes it out of the list, and one that puts
// it back puts it back (writePaymentLocked); the platform never writes a
// held request, one whose capture or void is under way, or a final one
// back to either. So the list holds a session's live requests, not every
// one it had, also while the session is not paired again; this call takes
// out the ones that it cancels.
func (s *Store) cancelPendingLocked(id payflow.ID, t time.Time) {
	wallClock(&t)
	ids := s.bySession[id]
	live := ids[:0]
	for _, pid := range ids {
		p := s.payments[pid]
		switch {
		case !p.ExpiresAt.After(t):
		case p.State == payflow.StatePending:
			p.State, p.UpdatedAt, p.DeferredTo = payflow.StateCancelled, t, time.Time{}
			p.Version++
		case p.State == payflow.StateApproving:
			p.VoidTo = payflow.StateCancelled
			p.Version++
		}
		if open(p.State) {
			live = append(live, pid)
		}
	}
	s.setSessionListLocked(id, live)
}

// setSessionListLocked keeps ids as the list of session id, none when
// ids is empty.
func (s *Store) setSessionListLocked(id payflow.ID, ids []payflow.ID) {
	if len(ids) == 0 {
		delete(s.bySession, id)
	} else {
		s.bySession[id] = ids
	}
}

// Payment implements payflow.Store.
func (s *Store) Payment(_ context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	return copyPayment(p), nil
}

func (s *Store) casPaymentLocked(p *payflow.PaymentRecord, from string) error {
	old, ok := s.payments[p.ID]
	if !ok || old.State != from || old.Version != p.Version {
		return payflow.ErrConflict
	}
	return nil
}

// open reports whether a request in state is pending or its approval is
// under way: the requests that a pairing cancels or marks, which its
// session's list holds (cancelPendingLocked).
func open(state string) bool {
	return state == payflow.StatePending || state == payflow.StateApproving
}

func (s *Store) writePaymentLocked(p *payflow.PaymentRecord) {
	old := s.payments[p.ID]
	switch ids := s.bySession[old.SessionID]; {
	case open(p.State) && !slices.Contains(ids, p.ID):
		s.bySession[old.SessionID] = append(ids, p.ID)
	case !open(p.State) && open(old.State):
		s.setSessionListLocked(old.SessionID, slices.DeleteFunc(ids, func(id payflow.ID) bool { return id == p.ID }))
	}
	if p.State != old.State { // a deferral is of the step it was made in
		p.DeferredTo = time.Time{}
	}
	n := storedPayment(p)
	// Immutable fields stay as inserted.
	n.SessionID, n.MerchantID, n.SellerCardID, n.PayerCardID = old.SessionID, old.MerchantID, old.SellerCardID, old.PayerCardID
	n.Currency, n.Amount, n.Lines, n.Legs = old.Currency, old.Amount, old.Lines, old.Legs
	n.Request, n.RequestHash, n.ManualCapture, n.ExpiresAt, n.CreatedAt = old.Request, old.RequestHash, old.ManualCapture, old.ExpiresAt, old.CreatedAt
	n.Version = old.Version + 1
	s.payments[p.ID] = n
	p.Version = n.Version
}

// UpdatePayment implements payflow.Store.
func (s *Store) UpdatePayment(_ context.Context, p *payflow.PaymentRecord, from string) error {
	if err := payflow.CheckPaymentUpdate(p, from); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.casPaymentLocked(p, from); err != nil {
		return err
	}
	s.writePaymentLocked(p)
	return nil
}

// DuePayments implements payflow.Store.
func (s *Store) DuePayments(_ context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	if err := payflow.CheckDueLimit(limit); err != nil {
		return nil, err
	}
	if err := payflow.CheckNow(t); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*payflow.PaymentRecord
	for _, p := range s.payments {
		if p.State == state && expired(p.Due(), t) {
			out = append(out, copyPayment(p))
		}
	}
	return dueFirst(out, func(p *payflow.PaymentRecord) payflow.ID { return p.ID }, limit), nil
}

func copyRefund(r *payflow.RefundRecord) *payflow.RefundRecord {
	n := *r
	n.Request = bytes.Clone(r.Request)
	n.Hash = bytes.Clone(r.Hash)
	n.Receipt = optional(r.Receipt)
	return &n
}

// UpdateRefund implements payflow.Store.
func (s *Store) UpdateRefund(_ context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if err := payflow.CheckRefundUpdate(r, from, p, pFrom); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refunds[r.ID]
	if !ok || old.State != from || old.Version != r.Version {
		return payflow.ErrConflict
	}
	if p != nil {
		if err := s.casPaymentLocked(p, pFrom); err != nil {
			return err
		}
		s.writePaymentLocked(p)
	}
	r.Version++
	old.State, old.Receipt, old.Refunded, old.Failure, old.DeferredTo = r.State, optional(r.Receipt), r.Refunded, r.Failure, r.DeferredTo
	wallClock(&old.DeferredTo)
	old.Version = r.Version
	return nil
}

// Refund implements payflow.Store.
func (s *Store) Refund(_ context.Context, id payflow.ID) (*payflow.RefundRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	if !ok {
		return nil, payflow.ErrNotFound
	}
	return copyRefund(r), nil
}

// DueRefunds implements payflow.Store.
func (s *Store) DueRefunds(_ context.Context, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	if err := payflow.CheckDueLimit(limit); err != nil {
		return nil, err
	}
	if err := payflow.CheckNow(t); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*payflow.RefundRecord
	for _, r := range s.refunds {
		if r.State == payflow.RefundPending && expired(r.Due(), t) {
			out = append(out, copyRefund(r))
		}
	}
	return dueFirst(out, func(r *payflow.RefundRecord) payflow.ID { return r.ID }, limit), nil
}

// DeleteExpired implements payflow.Store. It walks the nonces, tokens and
// sessions in batches of 256 entries at most, each in one hold of the
// store's lock, which other calls take between two batches; the
// idempotent replies are deleted after the store's lock is released,
// under their own lock, which payflow.ReplyMemory.DeleteExpired takes for
// a bounded batch at a time. An entry that expired at now and that
// another call deletes meanwhile is not counted; one written meanwhile
// may be walked or not, and the sweep ends all the same: each map is
// walked once, and the replies are swept as ReplyMemory.DeleteExpired
// says.
func (s *Store) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	if err := payflow.CheckNow(now); err != nil {
		return 0, err
	}
	n := s.deleteExpired(now)
	if s.beforeReplies != nil {
		s.beforeReplies()
	}
	return n + s.replies.DeleteExpired(now), nil
}

// sweepBatch is the most entries that DeleteExpired walks in one hold of
// the store's lock.
const sweepBatch = 256

// deleteExpired deletes the nonces, tokens and sessions expired at now
// and returns how many, releasing the lock after every sweepBatch entries
// walked.
func (s *Store) deleteExpired(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	walked := 0
	n := sweep(s, s.nonces, func(exp time.Time) time.Time { return exp }, now, &walked)
	n += sweep(s, s.used, func(exp time.Time) time.Time { return exp }, now, &walked)
	n += sweep(s, s.tokens, func(t *payflow.TokenRecord) time.Time { return t.ExpiresAt }, now, &walked)
	n += sweep(s, s.sessions, func(r *payflow.SessionRecord) time.Time { return r.ExpiresAt }, now, &walked)
	return n
}

// sweep deletes the entries of m expired at now by their expiry and
// returns how many, s.mu held on entry and on return. It counts in walked
// the entries of the batch, over the maps swept one after the other, and
// before one that would make it longer than sweepBatch releases s.mu,
// takes it again and starts the next batch. The range goes on over the
// map as other calls changed it meanwhile, which the language allows (an
// entry deleted meanwhile and not yet walked is not walked, one added
// meanwhile may be), and the entry it had produced is read again.
func sweep[K comparable, V any](s *Store, m map[K]V, expiry func(V) time.Time, now time.Time, walked *int) int {
	n := 0
	for k, v := range m {
		if *walked == sweepBatch {
			*walked = 0
			s.mu.Unlock()
			if s.betweenBatches != nil {
				s.betweenBatches()
			}
			s.mu.Lock()
			// The value walked may have changed or gone meanwhile.
			var ok bool
			if v, ok = m[k]; !ok {
				continue
			}
		}
		*walked++
		if expired(expiry(v), now) {
			delete(m, k)
			n++
		}
	}
	return n
}

// BeginIdempotent implements payflow.Store.
func (s *Store) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	if err := payflow.StorableText(key); err != nil {
		return nil, err
	}
	if err := payflow.StorableTimes(lease); err != nil {
		return nil, err
	}
	if err := payflow.CheckNow(now); err != nil {
		return nil, err
	}
	return s.replies.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

// LookupIdempotent implements payflow.ReplyReader.
func (s *Store) LookupIdempotent(ctx context.Context, key string, bodyHash []byte, now time.Time) (*payflow.IdempotentReply, error) {
	if err := payflow.StorableText(key); err != nil {
		return nil, err
	}
	return s.replies.LookupIdempotent(ctx, key, bodyHash, now)
}

var _ payflow.ReplyReader = (*Store)(nil)

// FinishIdempotent implements payflow.Store.
func (s *Store) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if err := payflow.StorableTimes(expires); err != nil {
		return err
	}
	return s.replies.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

// AbandonIdempotent implements payflow.Store.
func (s *Store) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	return s.replies.AbandonIdempotent(ctx, key, lease)
}

// expired reports whether t, kept as an expiry, a lease or a due time,
// has come at now: at now or before it, and the zero time (none) at every
// now, one before the zero time itself included (see payflow.Store).
func expired(t, now time.Time) bool { return t.IsZero() || !now.Before(t) }

// dueFirst sorts records by when they are due, then by ID, as the SQL
// stores do, and keeps the first limit.
func dueFirst[R interface{ Due() time.Time }](out []R, id func(R) payflow.ID, limit int) []R {
	slices.SortFunc(out, func(a, b R) int {
		if c := a.Due().Compare(b.Due()); c != 0 {
			return c
		}
		ia, ib := id(a), id(b)
		return bytes.Compare(ia[:], ib[:])
	})
	return out[:min(len(out), limit)]
}
