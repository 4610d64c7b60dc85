package paytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// sweepLimit is the limit of the recovery sweeps of sweepPastFailures
// and sweepPastFailedRefunds: one more settlement than it fails for good.
const sweepLimit = 2

// Ledger kinds of transfer IDs (payflow.TransferID) that the recovery
// tests take in the ledger before the platform does, and that the tests
// look up.
const (
	kindHold   = 1
	kindPost   = 2
	kindVoid   = 3
	kindRefund = 4
)

// takeID creates in the ledger a transfer of 1 EUR from the shopper to
// the merchant under id, which the platform derives for a settlement of
// its own with other fields: the ledger answers that settlement's
// transfer exists with other fields, which no retry mends. The transfers
// made, when given, are created before it in one linked chain with it,
// as they are given but for their linked flag, which takeID sets.
func (s *Shop) takeID(id ledger.ID, made ...ledger.Transfer) {
	s.TB.Helper()
	eur := uint32(978)
	ts := make([]ledger.Transfer, 0, len(made)+1)
	for _, t := range made {
		t.Flags |= ledger.TransferLinked
		ts = append(ts, t)
	}
	ts = append(ts, ledger.Transfer{
		ID: id, DebitAccountID: payflow.AccountID(payflow.AccountWallet, eur, s.Shopper.ID),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eur, MerchantID), Amount: 1, Ledger: eur, Code: 9,
	})
	res, err := s.Ledger.CreateTransfers(context.Background(), ts)
	must(s.TB, err)
	require.Equal(s.TB, make([]ledger.CreateTransferResult, len(ts)), res, "all created")
}

// approving creates a request of amount EUR with legs and records the
// shopper's consent to it as a platform process does before it moves the
// money, leaving it approving as that process would if it died there.
func (s *Shop) approving(amount uint64, legs ...record.Leg) payflow.ID {
	s.TB.Helper()
	ctx := context.Background()
	id := s.createPending(amount, legs...).ID
	consent := s.Consent(id)
	r, err := s.Store.Payment(ctx, id)
	must(s.TB, err)
	h := record.Hash(consent)
	r.State, r.Attempt, r.Consent, r.ConsentHash = payflow.StateApproving, 1, consent, h[:]
	r.HoldExpiresAt, r.UpdatedAt = s.Clock.Now().Add(payflow.DefaultHoldTTL), s.Clock.Now()
	must(s.TB, s.Store.UpdatePayment(ctx, r, payflow.StatePending))
	return id
}

// sweep runs a recovery sweep of sweepLimit and checks how many
// settlements it finished and which error it met for the settlements that
// fail for good (failure; nil when it must meet none).
func (s *Shop) sweep(t *testing.T, finished int, failure error, msg string) {
	t.Helper()
	n, err := s.Platform.RecoverSweep(context.Background(), sweepLimit)
	if failure != nil {
		assert.ErrorIs(t, err, failure, msg)
	} else {
		assert.NoError(t, err, msg)
	}
	assert.Equal(t, finished, n, msg)
}

// assetsDown is a store that, once down, cannot read the assets
// (ErrUnavailable), as one whose assets table is out of reach: every
// settlement of a request with an asset leg then fails before it moves
// anything, at every try.
type assetsDown struct {
	payflow.Store
	down bool
}

func (s *assetsDown) Asset(ctx context.Context, name string) (payflow.Asset, error) {
	if s.down {
		return payflow.Asset{}, fmt.Errorf("%w: the assets are out of reach", payflow.ErrUnavailable)
	}
	return s.Store.Asset(ctx, name)
}

// sweepPastFailures: sweepLimit+1 settlements that fail at every try do
// not keep the recovery sweep from a newer one. Each failure defers its
// request (RecoverSweep): the next sweep, at the same time, takes the
// requests behind it and completes the healthy one, and the failing
// ones are tried again once their delay has passed. The sweeps run on a
// platform whose store cannot read the assets, which fails the requests
// with a ticket leg and not the healthy one, of money alone.
func sweepPastFailures(t *testing.T, s *Shop) {
	var failing []payflow.ID
	for i := range sweepLimit + 1 {
		failing = append(failing, s.approving(uint64(10+i), record.Leg{Asset: Ticket, Amount: 1}))
	}
	s.Clock.Advance(time.Second)
	healthy := s.approving(100)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	st := &assetsDown{Store: s.Store}
	st.down, s.Platform = true, s.otherPlatform(st)

	s.sweep(t, 0, payflow.ErrUnavailable, "the oldest settlements fail")
	s.sweep(t, 1, payflow.ErrUnavailable, "the next sweep goes past them")
	assert.Equal(t, payflow.StateCaptured, s.storedState(healthy), "the healthy settlement is completed")
	s.sweep(t, 0, nil, "the failed settlements wait")
	for _, id := range failing {
		assert.Equal(t, payflow.StateApproving, s.storedState(id))
	}
	s.Clock.Advance(payflow.DefaultRecoverAfter + 2*time.Second)
	s.sweep(t, 0, payflow.ErrUnavailable, "tried again after their delay")
	s.sweep(t, 0, payflow.ErrUnavailable, "the last of them")
	s.sweep(t, 0, nil, "and deferred again")
	for _, id := range failing {
		assert.Equal(t, payflow.StateApproving, s.storedState(id), "nothing recorded for them")
	}
	st.down = false
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 100}, {Posted: 100}}, s.Balances("EUR"),
		"only the healthy settlement moved money")
	_, err := s.Platform.Balance(context.Background(), s.Shopper.ID, Ticket)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no ticket wallet made")
	b, err := s.Platform.Balance(context.Background(), MerchantID, Ticket)
	require.NoError(t, err)
	assert.Equal(t, untouchedTickets[1], b, "no ticket moved")
}

// deferralClearedByNextStep: a settlement that a recovery sweep deferred
// (its try failed: DeferredTo set as long again as it had been under way)
// and that a call then moved on (the consent sent again, its hold made)
// is no longer deferred: the step that changed its state cleared
// DeferredTo, and a capture of it left under way is driven by the sweep
// RecoverAfter after that capture, not once the earlier deferral has
// passed. The tries fail on a platform whose store cannot read the
// assets, the request having a ticket leg.
func deferralClearedByNextStep(t *testing.T, s *Shop) {
	ctx := context.Background()
	id := s.approving(10, record.Leg{Asset: Ticket, Amount: 1})
	underWay := 10 * payflow.DefaultRecoverAfter
	s.Clock.Advance(underWay)
	st := &assetsDown{Store: s.Store}
	st.down, s.Platform = true, s.otherPlatform(st)
	s.sweep(t, 0, payflow.ErrUnavailable, "the approval's try fails")
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	require.Equal(t, payflow.StateApproving, r.State)
	deferredTo := s.Clock.Now().Add(underWay - payflow.DefaultRecoverAfter)
	require.Equal(t, deferredTo.UnixNano(), r.DeferredTo.UnixNano(), "deferred by the sweep")

	st.down = false
	v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: r.Consent})
	require.NoError(t, err, "the consent sent again")
	require.Equal(t, payflow.StateHeld, v.State)
	r, err = s.Store.Payment(ctx, id)
	require.NoError(t, err)
	assert.True(t, r.DeferredTo.IsZero(), "the deferral cleared by the step that made the hold")

	st.down = true
	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.Equal(t, "capturing", s.storedState(id))
	st.down = false
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	require.True(t, s.Clock.Now().Before(deferredTo), "the earlier deferral not passed")
	s.sweep(t, 1, nil, "the capture driven RecoverAfter after it began")
	assert.Equal(t, payflow.StateCaptured, s.storedState(id))
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 10}, {Posted: 10}}, s.Balances("EUR"), "captured once")
}

// paymentDown is a store that, once down, cannot read the payment id
// (ErrUnavailable), as one whose row is out of reach: every refund of
// that payment then fails before it moves anything, at every try.
type paymentDown struct {
	payflow.Store
	id   payflow.ID
	down bool
}

func (s *paymentDown) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if s.down && id == s.id {
		return nil, fmt.Errorf("%w: payment %v is out of reach", payflow.ErrUnavailable, id)
	}
	return s.Store.Payment(ctx, id)
}

// sweepPastFailedRefunds is sweepPastFailures for refunds under way: the
// failing refunds are of a payment that the sweeper's store cannot read,
// the healthy one of another payment.
func sweepPastFailedRefunds(t *testing.T, s *Shop) {
	ctx := context.Background()
	paid := func(amount uint64) payflow.ID {
		v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(s.createPending(amount).ID)})
		require.NoError(t, err)
		require.Equal(t, payflow.StateCaptured, v.State)
		return v.ID
	}
	unread, read := paid(1000), paid(500)
	var failing []payflow.ID
	for i := range sweepLimit + 1 {
		failing = append(failing, s.pendingRefund(unread, byte(i), 10))
	}
	s.Clock.Advance(time.Second)
	healthy := s.pendingRefund(read, 9, 100)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	st := &paymentDown{Store: s.Store, id: unread}
	st.down, s.Platform = true, s.otherPlatform(st)

	s.sweep(t, 0, payflow.ErrUnavailable, "the oldest refunds fail")
	s.sweep(t, 1, payflow.ErrUnavailable, "the next sweep goes past them")
	r, err := s.Store.Refund(ctx, healthy)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, r.State, "the healthy refund is completed")
	s.sweep(t, 0, nil, "the failed refunds wait")
	s.Clock.Advance(payflow.DefaultRecoverAfter + 2*time.Second)
	s.sweep(t, 0, payflow.ErrUnavailable, "tried again after their delay")
	s.sweep(t, 0, payflow.ErrUnavailable, "the last of them")
	s.sweep(t, 0, nil, "and deferred again")
	for _, id := range failing {
		r, err := s.Store.Refund(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.RefundPending, r.State, "nothing recorded for them")
	}
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1500 + 100}, {Posted: 1500 - 100}}, s.Balances("EUR"),
		"only the healthy refund moved money")
}

// pendingRefund records a signed refund of amount EUR of request id, its
// amount reserved, as a platform process does before it moves the money,
// leaving it pending as that process would if it died there. Its refund
// ID ends with n.
func (s *Shop) pendingRefund(id payflow.ID, n byte, amount uint64) payflow.ID {
	s.TB.Helper()
	ctx := context.Background()
	refundID := payflow.ID([]byte("refund-00000000\x00"))
	refundID[len(refundID)-1] = n
	msg := s.Seller.MustSign(&record.RefundRequest{RefundID: refundID[:], RequestID: id[:], Amount: amount, Currency: "EUR"})
	var rr record.RefundRequest
	must(s.TB, record.Open(msg, &rr))
	p, err := s.Store.Payment(ctx, id)
	must(s.TB, err)
	p.Refunded += amount
	h := record.Hash(msg)
	ref := &payflow.RefundRecord{ID: refundID, RequestID: id, State: payflow.RefundPending, Amount: amount, Currency: "EUR",
		Request: msg, Hash: h[:], Refunded: p.Refunded, CreatedAt: s.Clock.Now()}
	must(s.TB, s.Store.Accept(ctx, &payflow.Acceptance{CardID: rr.CardID, Counter: rr.Counter, Refund: ref, Update: p,
		From: payflow.StateCaptured}))
	return refundID
}

// consentSentAgainLate: a consent whose settlement's record was lost (the
// ledger held and captured, the request stayed approving) is sent again
// after its nonce expired (the request's expiry plus the challenge
// lifetime): it finishes that settlement and gets its view, the money
// moved once. Another consent to the request, its nonce expired too, is
// ErrReplay and changes nothing, also after the capture; the first sent
// once more after the capture gets the request's view again. A consent
// of a payer card revoked since is ErrCard, and its request stays
// approving.
func consentSentAgainLate(t *testing.T, f *Fixture) {
	ctx := context.Background()
	s := NewShop(f, false)
	lost := errors.New("paytest: connection lost")
	hooked := &hookedStore{Store: f.Store, from: payflow.StateApproving, hook: func() error { return lost }}
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: f.Ledger, Store: hooked, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	require.NoError(t, err)
	late := payflow.DefaultRequestTTL + pki.DefaultNonceTTL + time.Second

	v := s.createPending(690)
	first, second := s.Consent(v.ID), s.Consent(v.ID)
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: first})
	require.ErrorIs(t, err, lost)
	require.Equal(t, payflow.StateApproving, s.storedState(v.ID))
	moved := [2]payflow.Balance{{Posted: Funds - 690}, {Posted: 690}}
	require.Equal(t, moved, s.Balances("EUR"), "the ledger held and captured")
	s.Clock.Advance(late)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: second})
	require.ErrorIs(t, err, payflow.ErrReplay, "another consent, its nonce expired")
	assert.Equal(t, payflow.StateApproving, s.storedState(v.ID))

	pv, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: first})
	require.NoError(t, err, "the accepted consent, its nonce expired")
	assert.Equal(t, payflow.StateCaptured, pv.State)
	assert.Equal(t, uint64(690), pv.Captured)
	rc := s.VerifiedReceipt(t, pv.Receipt)
	h := record.Hash(first)
	assert.Equal(t, h[:], rc.ConsentHash)
	assert.Equal(t, uint64(690), rc.Amount)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, pv.Receipt, r.Receipt, "the view shows the stored receipt")
	assert.Equal(t, moved, s.Balances("EUR"), "no money moved twice")

	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: first})
	require.NoError(t, err, "the settled consent sent again after the capture")
	assert.Equal(t, pv, again, "the request's view, with its receipt")
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: second})
	assert.ErrorIs(t, err, payflow.ErrReplay, "another consent sent again after the capture")
	assert.Equal(t, payflow.StateCaptured, s.storedState(v.ID))
	assert.Equal(t, moved, s.Balances("EUR"))

	hooked.once = sync.Once{}
	v = s.createPending(100)
	c := s.Consent(v.ID)
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, lost)
	moved = [2]payflow.Balance{{Posted: Funds - 790}, {Posted: 790}}
	require.Equal(t, moved, s.Balances("EUR"))
	s.Clock.Advance(late)
	s.Revoke(s.Shopper)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	assert.ErrorIs(t, err, payflow.ErrCard, "the revoked card's consent")
	assert.Equal(t, payflow.StateApproving, s.storedState(v.ID))
	assert.Equal(t, moved, s.Balances("EUR"))
}
