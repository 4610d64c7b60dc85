package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestApproveCopyGetsTheHoldsRefusalCode: of two copies of one consent
// sent at the same moment, the one accepted second (its nonce spent by
// the first) gets the refusal of the hold that the first settled with the
// code the first got: over_limit for a chain that would overflow the
// payer's ticket wallet, conflict when the ledger holds that chain's limit
// mark as another client's transfer; not insufficient_funds. When the
// ledger's transfers cannot be read as the second looks for the reason,
// it is unavailable, not a refusal. The request is pending again and
// nothing moved.
func TestApproveCopyGetsTheHoldsRefusalCode(t *testing.T) {
	for _, tt := range []struct {
		name string
		// taken is the ID that the ledger holds as another client's
		// transfer, given the request's ID; nil for none.
		taken     func(id payflow.ID) ledger.ID
		readsDown bool // the ledger's transfers unreadable once the first call ended
		first     error
		want      error
	}{
		{"overflow", nil, false, payflow.ErrLimit, payflow.ErrLimit},
		{"limit mark taken", func(id payflow.ID) ledger.ID { return limitMark(payflow.TransferID(id, 1, 1, 1)) },
			false, payflow.ErrConflict, payflow.ErrConflict},
		{"hold ID taken, reads down", func(id payflow.ID) ledger.ID { return payflow.TransferID(id, 1, 1, 1) },
			true, payflow.ErrConflict, payflow.ErrUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := &acceptHook{Store: memory.New()}
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, st, ls, false, paytest.Options{})
			v := overflowingRequest(t, s)
			if tt.taken != nil {
				s.takeID(t, tt.taken(v.ID))
			}
			before := s.allBalances(t)
			c := s.consent(t, v.ID)
			var firstErr error
			st.hook = func() {
				_, firstErr = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
				if tt.readsDown {
					ls.transfers.failAllWith(errLedgerDown)
				}
			}

			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			ls.transfers.disarm()
			require.ErrorIs(t, firstErr, tt.first)
			require.ErrorIs(t, err, tt.want, "the copy accepted second")
			assert.Equal(t, payflow.AsError(tt.want).Code, payflow.AsError(err).Code)
			s.requireState(t, v.ID, payflow.StatePending)
			assert.Equal(t, before, s.allBalances(t), "nothing moved")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestHoldChainTakenMadeOtherwise: an auto capture's hold chain, its
// ticket leg's hold ID taken by another client's transfer, whose money
// leg's hold the ledger holds as the platform makes it: when the ledger
// holds that hold posted by the chain's own post, as the platform makes
// it, the money moved, and the approval is conflict, the request left
// approving with nothing more moved, not internal (as if the post were a
// hold, its void finding it posted); when the ledger holds the hold
// pending and the ID of its void as another client's transfer, the void
// that the platform sends is refused and the approval is internal, the
// request left approving and the hold held, not taken as voided.
func TestHoldChainTakenMadeOtherwise(t *testing.T) {
	for _, tt := range []struct {
		name   string
		posted bool // the hold posted by the chain's post; else its void's ID taken
		want   error
		after  payflow.Balance // the shopper's EUR balance
	}{
		{"hold posted", true, payflow.ErrConflict, payflow.Balance{Posted: funds - 240 - 1}},
		{"void ID taken", false, payflow.ErrInternal, payflow.Balance{Posted: funds - 2, Held: 240}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, false, paytest.Options{})
			v := ticketRequest(t, s)
			c := s.consent(t, v.ID)
			eur := uint32(978)
			hold := ledger.Transfer{
				ID: payflow.TransferID(v.ID, 1, 0, 1), DebitAccountID: payflow.AccountID(payflow.AccountWallet, eur, s.shopper.ID),
				CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eur, merchantID), Amount: 240,
				UserData128: ledger.ID(v.ID), Timeout: uint32(payflow.DefaultHoldTTL / time.Second), Ledger: eur,
				Code: payflow.TransferPayment, Flags: ledger.TransferPending,
			}
			made := []ledger.Transfer{hold}
			if tt.posted {
				made[0].Flags |= ledger.TransferLinked
				made = append(made, ledger.Transfer{
					ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: hold.ID, Amount: 240, Ledger: eur,
					Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
				})
			}
			res, err := s.Ledger.CreateTransfers(ctx, made)
			require.NoError(t, err)
			require.Equal(t, make([]ledger.CreateTransferResult, len(made)), res)
			s.takeID(t, payflow.TransferID(v.ID, 1, 1, 1))
			if !tt.posted {
				s.takeID(t, payflow.TransferID(v.ID, 1, 0, 3))
			}
			tickets := s.Balances(paytest.Ticket)

			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorIs(t, err, tt.want)
			assert.Equal(t, payflow.AsError(tt.want).Code, payflow.AsError(err).Code)
			s.requireState(t, v.ID, payflow.StateApproving)
			assert.Equal(t, tt.after, s.balances(t)[0], "nothing more moved")
			assert.Equal(t, tickets, s.Balances(paytest.Ticket), "no ticket moved")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestRefundStoredFirstUnderItsID: a refund under whose ID another call
// stores a refund between this call's first read and its acceptance is
// answered from the refund stored: a copy of its bytes sent at the same
// moment (which spent the card's counter first) gives this call the
// copy's view, the money refunded once; another refund under the same ID
// (another seller card's, which leaves this one's counter valid, or a
// later one of the same card) refuses this one with conflict, the stored
// refund and the payment's reservation as that refund left them and
// nothing more moved.
func TestRefundStoredFirstUnderItsID(t *testing.T) {
	for _, tt := range []struct {
		name string
		// other signs the refund stored first, given the card of the
		// merchant's second till, the payment and this call's signed
		// refund.
		other func(s *shop, till *paytest.Card, id payflow.ID, msg []byte) []byte
		want  error
	}{
		{"copy", func(_ *shop, _ *paytest.Card, _ payflow.ID, msg []byte) []byte { return msg }, nil},
		{"another card's", func(_ *shop, till *paytest.Card, id payflow.ID, _ []byte) []byte {
			return till.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: id[:], Amount: 100, Currency: "EUR"})
		}, payflow.ErrConflict},
		{"the same card's later", func(s *shop, _ *paytest.Card, id payflow.ID, _ []byte) []byte {
			return s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: id[:], Amount: 100, Currency: "EUR"})
		}, payflow.ErrConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := &copyMeanwhile{Store: memory.New(), copied: func() {}}
			s := newShopOn(t, st, false, paytest.Options{})
			till := s.NewCard("Till 2")
			require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
				ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{s.seller.ID, till.ID},
			}))
			till.Login(record.RoleSeller)
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 490, Currency: "EUR"})
			other := tt.other(s, till, v.ID, msg)
			var otherView *payflow.RefundView
			var otherErr error
			st.other = func() { otherView, otherErr = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: other}) }

			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, otherErr)
			require.NotNil(t, otherView, "the other refund was made first")
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, otherView, rv, "the copy's view")
			} else {
				require.ErrorIs(t, err, tt.want)
				assert.Equal(t, payflow.AsError(tt.want).Code, payflow.AsError(err).Code)
				assert.ErrorContains(t, err, "is taken by another refund")
				assert.Nil(t, rv)
			}
			stored := requireRefund(t, s.Store, payflow.ID([]byte("refund-000000001")), payflow.RefundDone, otherView.Amount)
			assert.Equal(t, other, stored.Request, "the refund stored first")
			assert.Equal(t, [2]payflow.Balance{{Posted: funds - 690 + otherView.Amount}, {Posted: 690 - otherView.Amount}}, s.balances(t), "refunded once")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestRefundOverLimitWithItsIDStoredSince: a refund refused for asking
// more than the payment has left to refund (ErrLimit) is answered with
// that refusal, not with the refund that another request stored under
// its ID since its first read found none (which would be ErrConflict,
// the ID taken): only a refusal for its counter (ErrClone) is answered by
// the stored refund. Nothing more is refunded and the stored refund
// stays as it was.
func TestRefundOverLimitWithItsIDStoredSince(t *testing.T) {
	ctx := context.Background()
	id := payflow.ID([]byte("refund-000000001"))
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	all := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 690, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: all})
	require.NoError(t, err)

	reads := st.refund.made()
	st.refund.failNextWith(payflow.ErrNotFound) // as read just before the other request stored it
	more := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: more})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.NotErrorIs(t, err, payflow.ErrConflict)
	assert.Equal(t, 1, st.refund.made()-reads, "its first read only: its refusal reads no refund")
	r := requireRefund(t, st.Store, id, payflow.RefundDone, 690)
	assert.Equal(t, all, r.Request)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {Posted: 0}}, s.balances(t))
}

// sweepFaults is a Store that records the limit of every list of due
// payments or refunds and the time of every deletion of expired records,
// and fails, when its error is set: the list of due payments in a state
// (due), the write of a request from a state (writes), the deletion of
// expired records (deletion), and every write that defers a settlement
// (settlementDeferral) or a refund (refundDeferral).
type sweepFaults struct {
	payflow.Store
	due                map[string]error
	writes             map[string]error
	deletion           error
	settlementDeferral error
	refundDeferral     error
	limits             []int
	deletedAt          []time.Time
}

func (s *sweepFaults) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	s.limits = append(s.limits, limit)
	if err := s.due[state]; err != nil {
		return nil, err
	}
	return s.Store.DuePayments(ctx, state, t, limit)
}

func (s *sweepFaults) DueRefunds(ctx context.Context, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	s.limits = append(s.limits, limit)
	return s.Store.DueRefunds(ctx, t, limit)
}

func (s *sweepFaults) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	s.deletedAt = append(s.deletedAt, now)
	if s.deletion != nil {
		return 0, s.deletion
	}
	return s.Store.DeleteExpired(ctx, now)
}

func (s *sweepFaults) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if err := s.writes[from]; err != nil {
		return err
	}
	if s.settlementDeferral != nil && !p.DeferredTo.IsZero() {
		return s.settlementDeferral
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

func (s *sweepFaults) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if s.refundDeferral != nil && !r.DeferredTo.IsZero() {
		return s.refundDeferral
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

// TestSweepsDefaultLimitAndTime: ExpireDue and RecoverSweep given no
// limit ask the store for at most 1000 of each state's due payments and
// of the due refunds, and a given limit as it is; ExpireDue deletes the
// records expired at the platform's time.
func TestSweepsDefaultLimitAndTime(t *testing.T) {
	ctx := context.Background()
	st := &sweepFaults{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	s.Clock.Advance(time.Hour)
	for _, limit := range []int{0, 3} {
		want := limit
		if limit == 0 {
			want = 1000
		}
		st.limits, st.deletedAt = nil, nil
		_, err := s.Platform.ExpireDue(ctx, limit)
		require.NoError(t, err)
		assert.Equal(t, []int{want, want}, st.limits, "ExpireDue(%d): pending and held", limit)
		assert.Equal(t, []time.Time{s.Clock.Now()}, st.deletedAt, "ExpireDue(%d)", limit)
		st.limits = nil
		_, err = s.Platform.RecoverSweep(ctx, limit)
		require.NoError(t, err)
		assert.Equal(t, []int{want, want, want, want}, st.limits, "RecoverSweep(%d): approving, capturing, voiding and refunds", limit)
	}
}

var (
	errDue                = errors.New("due payments: connection lost")
	errDeletion           = errors.New("deleting expired records: connection lost")
	errSettlementDeferral = errors.New("deferring a settlement: connection lost")
	errRefundDeferral     = errors.New("deferring a refund: connection lost")
)

// TestSweepsReportStoreFailures: a sweep whose store fails to list the due
// payments of a state, to delete the expired records, or to defer a
// settlement or a refund that failed reports that failure, with the
// failures before it; a sweep that cannot list the due payments of a
// state stops there, and the requests behind it stay as they were.
func TestSweepsReportStoreFailures(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		// fault sets the store's failure.
		fault func(st *sweepFaults)
		// recover: the recovery sweep, else ExpireDue.
		recover bool
		n       int
		want    []error
		// states are the states of the pending, held, approving
		// requests after the sweep.
		states [3]string
	}{
		{"pending due", func(st *sweepFaults) { st.due = map[string]error{payflow.StatePending: errDue} }, false, 0,
			[]error{errDue}, [3]string{payflow.StatePending, payflow.StateHeld, payflow.StateApproving}},
		{"held due", func(st *sweepFaults) { st.due = map[string]error{payflow.StateHeld: errDue} }, false, 1,
			[]error{errDue}, [3]string{payflow.StateExpired, payflow.StateHeld, payflow.StateApproving}},
		{"deletion", func(st *sweepFaults) { st.deletion = errDeletion }, false, 2,
			[]error{errDeletion}, [3]string{payflow.StateExpired, payflow.StateExpired, payflow.StateApproving}},
		{"approving due", func(st *sweepFaults) { st.due = map[string]error{payflow.StateApproving: errDue} }, true, 0,
			[]error{errDue}, [3]string{payflow.StatePending, payflow.StateHeld, payflow.StateApproving}},
		{"settlement deferral", func(st *sweepFaults) { st.settlementDeferral = errSettlementDeferral }, true, 0,
			[]error{payflow.ErrUnavailable, errSettlementDeferral}, [3]string{payflow.StatePending, payflow.StateHeld, payflow.StateApproving}},
		{"refund deferral", func(st *sweepFaults) { st.refundDeferral = errRefundDeferral }, true, 0,
			[]error{payflow.ErrUnavailable, errRefundDeferral}, [3]string{payflow.StatePending, payflow.StateHeld, payflow.StateApproving}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &sweepFaults{Store: memory.New()}
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, st, ls, true, paytest.Options{})
			pending, _ := s.request(t)
			held := s.held(t)
			approving, _ := s.request(t)
			s.recordConsent(t, approving.ID, s.consent(t, approving.ID), "")
			paid, _ := s.request(t)
			s.captured(t, paid.ID, true)
			id := payflow.ID([]byte("refund-000000001"))
			reserveRefund(t, st, paid.ID, s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: paid.ID[:], Amount: 200, Currency: "EUR"}), s.Clock.Now())
			before := s.balances(t)
			s.Clock.Advance(payflow.DefaultHoldTTL)
			s.RefreshCRLs()
			tt.fault(st)
			var n int
			var err error
			if tt.recover {
				ls.down.Store(true)
				n, err = s.Platform.RecoverSweep(ctx, 0)
				ls.down.Store(false)
			} else {
				n, err = s.Platform.ExpireDue(ctx, 0)
			}
			for _, want := range tt.want {
				assert.ErrorIs(t, err, want)
			}
			assert.Equal(t, tt.n, n)
			for i, rid := range []payflow.ID{pending.ID, held.ID, approving.ID} {
				s.requireState(t, rid, tt.states[i])
			}
			requireRefund(t, s.Store, id, payflow.RefundPending, 200)
			if tt.states[1] == payflow.StateHeld {
				assert.Equal(t, before, s.balances(t), "nothing moved")
			}
		})
	}
}

// TestCaptureProbeOfPostTakenFails: a capture whose money leg's post ID
// the ledger holds as another client's transfer asks the ledger about the
// holds with posts under random IDs. When the platform's random source
// fails for those IDs, or the ledger cannot be reached for that probe,
// the capture is unavailable with that cause and the request stays
// capturing; when the ledger refuses the probe's post for the merchant's
// account, closed after the platform looked at it, the capture is refused
// (conflict, capture refused) and the request is held again. Nothing
// moves.
func TestCaptureProbeOfPostTakenFails(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(t *testing.T, s *shop, rnd *downRand, ls *downLedger, stale *staleLookups)
		want  []error
		state string
	}{
		{"random source down", func(_ *testing.T, _ *shop, rnd *downRand, _ *downLedger, _ *staleLookups) { rnd.down.Store(true) },
			[]error{payflow.ErrUnavailable, errRandDown}, "capturing"},
		{"ledger down", func(_ *testing.T, _ *shop, _ *downRand, ls *downLedger, _ *staleLookups) {
			ls.updates.arm(plan[struct{}]{skip: 1, fails: -1, err: errLedgerDown})
		},
			[]error{payflow.ErrUnavailable, errLedgerDown}, "capturing"},
		{"account closed", func(t *testing.T, s *shop, _ *downRand, _ *downLedger, stale *staleLookups) {
			closeAccount(t, s, payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), eurLedger)
			stale.stale = true
		}, []error{payflow.ErrConflict}, payflow.StateHeld},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rnd := &downRand{}
			stale := &staleLookups{Store: ledgermemory.New()}
			ls := &downLedger{Store: stale}
			s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{Platform: payflow.PlatformOptions{Rand: rnd}})
			v := s.held(t)
			s.takeID(t, payflow.TransferID(v.ID, 1, 0, 2))
			tt.fault(t, s, rnd, ls, stale)
			before := s.balances(t)

			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
			rnd.down.Store(false)
			ls.updates.disarm()
			stale.stale = false
			for _, want := range tt.want {
				require.ErrorIs(t, err, want)
			}
			assert.Equal(t, payflow.AsError(tt.want[0]).Code, payflow.AsError(err).Code)
			if tt.state == payflow.StateHeld {
				assert.ErrorContains(t, err, "capture refused")
			}
			s.requireState(t, v.ID, tt.state)
			assert.Equal(t, before, s.balances(t), "nothing moved")
		})
	}
}

// TestVoidTransferIDs: the cancellation of a held request voids the
// hold of its attempt under the void ID of that attempt and leg (kind 3),
// its pending ID the hold's: the first consent's hold under attempt 1; a
// second consent's, after the first consent's hold ID was found taken,
// under attempt 2.
func TestVoidTransferIDs(t *testing.T) {
	for _, attempt := range []uint32{1, 2} {
		t.Run(fmt.Sprintf("attempt %d", attempt), func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, true, paytest.Options{})
			v, _ := s.request(t)
			if attempt == 2 {
				s.takeID(t, payflow.TransferID(v.ID, 1, 0, 1))
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
				require.ErrorIs(t, err, payflow.ErrConflict)
			}
			h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			require.Equal(t, payflow.StateHeld, h.State)
			c, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			require.NoError(t, err)
			require.Equal(t, payflow.StateCancelled, c.State)

			void := payflow.TransferID(v.ID, attempt, 0, 3)
			found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{void, payflow.TransferID(v.ID, attempt+1, 0, 3)})
			require.NoError(t, err)
			require.Len(t, found, 1, "one void")
			assert.Equal(t, void, found[0].ID)
			assert.Equal(t, payflow.TransferID(v.ID, attempt, 0, 1), found[0].PendingID)
			assert.Equal(t, ledger.TransferVoidPendingTransfer, found[0].Flags)
		})
	}
}

// TestCaptureOfPostTakenUnread: a capture whose money leg's post ID the
// ledger holds as another client's transfer, the ledger's transfers
// unreadable when the platform looks for the posts of the capture, is
// unavailable: the request stays capturing, not held again as for posts
// found missing, and nothing moved.
func TestCaptureOfPostTakenUnread(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{})
	v := s.held(t)
	s.takeID(t, payflow.TransferID(v.ID, 1, 0, 2))
	before := s.balances(t)

	ls.transfers.failAllWith(errLedgerDown)
	_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	ls.transfers.disarm()
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	s.requireState(t, v.ID, "capturing")
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// TestSweepAccountTakenChainUnread: a settlement left approving whose
// payer's wallet the ledger holds with other fields is swept while the
// ledger's transfers cannot be read, as the platform looks for a hold of
// the chain made before: the sweep reports it unavailable, and the
// request stays approving, its consent kept, not pending again as for a
// taken account and no hold made.
func TestSweepAccountTakenChainUnread(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	bob, _, v := takenWalletRequest(t, s)
	pv, err := s.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	consent := bob.MustSign(paytest.Consent(pv))
	s.recordConsent(t, v.ID, consent, "")
	before := s.balances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	ls.transfers.failAllWith(errLedgerDown)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	ls.transfers.disarm()
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	assert.Zero(t, n)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateApproving, r.State)
	assert.Equal(t, consent, r.Consent)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// writeAfterRead is a ledger store that, once hook is set, runs it after
// the next read (View): another client of the ledger writes between the
// platform's look-up of accounts and its creation of those it missed.
type writeAfterRead struct {
	ledger.Store
	hook func()
}

func (l *writeAfterRead) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	err := l.Store.View(ctx, fn)
	if h := l.hook; h != nil {
		l.hook = nil
		h()
	}
	return err
}

// TestSweepWalletMadeAfterLookup: a settlement left approving whose
// payer's ticket wallet the ledger did not hold when the sweep looked the
// accounts of its legs up, and that another client of the ledger created
// before the platform did, ends as a refused hold, the request pending
// again and the sweep counting it done: when that wallet was opened as
// the platform opens it and closed, the ledger refuses the hold chain
// for the closed wallet, keeping the ticket hold's ID failed; when it
// holds the wallet's ID with other fields, the account is taken and no
// hold is sent. Nothing moves.
func TestSweepWalletMadeAfterLookup(t *testing.T) {
	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("closed=%v", closed), func(t *testing.T) {
			ctx := context.Background()
			ls := &writeAfterRead{Store: ledgermemory.New()}
			s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
			v := unopenedTicketRequest(t, s)
			s.recordConsent(t, v.ID, s.consent(t, v.ID), "")
			a, err := s.Store.Asset(ctx, paytest.Ticket)
			require.NoError(t, err)
			wallet := payflow.AccountID(payflow.AccountWallet, a.Ledger, s.shopper.ID)
			before := s.balances(t)
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			ls.hook = func() {
				if closed {
					require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, paytest.Ticket))
					closeAccount(t, s, wallet, a.Ledger)
					return
				}
				res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{{ID: wallet, Ledger: a.Ledger, Code: 9}})
				require.NoError(t, err)
				require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
			}

			n, err := s.Platform.RecoverSweep(ctx, 0)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			require.Nil(t, ls.hook, "the wallet made after the look-up")
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, r.State)
			assert.Nil(t, r.Consent, "the consent spent")
			assert.Equal(t, before, s.balances(t), "nothing moved")
			found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(v.ID, 1, 0, 1), payflow.TransferID(v.ID, 1, 1, 1)})
			require.NoError(t, err)
			assert.Empty(t, found, "no hold made")
			if closed { // the ledger refused the ticket hold for the closed wallet, and keeps its ID failed
				requireSpent(t, s, payflow.TransferID(v.ID, 1, 1, 1))
			}
		})
	}
}

// TestConsentRetryAccountTakenHoldIDTaken: the consent of a settlement
// left approving, whose payer's wallet the ledger holds with other fields
// and whose first hold's ID it holds as another client's transfer, sent
// again, is refused with conflict for the taken account (no hold of the
// chain is the platform's, so none was made before), not for the hold's
// ID: the request is pending again and nothing moved.
func TestConsentRetryAccountTakenHoldIDTaken(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob, wallet, v := takenWalletRequest(t, s)
	pv, err := s.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	consent := bob.MustSign(paytest.Consent(pv))
	s.recordConsent(t, v.ID, consent, "")
	s.takeID(t, payflow.TransferID(v.ID, 1, 0, 1))
	before := s.balances(t)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.ErrorContains(t, err, fmt.Sprintf("ledger: account %v (code %d, ledger %d) exists closed or with other fields", wallet, payflow.AccountWallet, eurLedger))
	s.requireState(t, v.ID, payflow.StatePending)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// TestReceiptOfMaxMessageAccepted: a request whose receipt, with the
// longest values its settlement can give it, is exactly record.MaxMessage
// bytes is accepted and paid, its receipt that long (without the chain);
// the next longer request is refused (invalid). The request is grown a
// byte at a time by the quantities of its lines of the longest SKUs and
// names (1, 24, 256 and 65536 take one, two, three and five bytes).
func TestReceiptOfMaxMessageAccepted(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	items := s.longCatalog(t)
	// create asks for the first len(qty) items in quantities qty.
	create := func(qty []uint64) (*payflow.PaymentView, error) {
		lines := slices.Clone(items[:len(qty)])
		amount := uint64(0)
		for i := range lines {
			lines[i].Quantity = qty[i]
			amount += qty[i]
		}
		return s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", amount, lines...))})
	}
	ones := func(n int) []uint64 {
		qty := make([]uint64, n)
		for i := range qty {
			qty[i] = 1
		}
		return qty
	}
	n := 1
	for ; ; n++ {
		if _, err := create(ones(n + 1)); err != nil {
			require.ErrorIs(t, err, payflow.ErrInvalid)
			break
		}
	}
	// Each quantity set one byte longer than the one before, past a
	// jump of the amount's length at the first line of 65536.
	var steps [][]uint64
	qty := ones(n)
	for _, q := range []uint64{24, 256} {
		for i := range qty {
			qty[i] = q
			steps = append(steps, slices.Clone(qty))
		}
	}
	for i := range qty {
		shorter := slices.Clone(qty)
		shorter[i], shorter[n-1] = 65536, 24
		qty[i] = 65536
		steps = append(steps, shorter, slices.Clone(qty))
	}
	var last *payflow.PaymentView
	for i, qty := range steps {
		v, err := create(qty)
		if err != nil {
			require.ErrorIs(t, err, payflow.ErrInvalid, "step %d", i)
			break
		}
		last = v
	}
	require.NotNil(t, last)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{0xf1}, s.shopper.ID, "EUR", last.Amount))
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, last.ID)})
	require.NoError(t, err)
	rc := s.VerifiedReceipt(t, done.Receipt)
	payload, err := record.Marshal(rc)
	require.NoError(t, err)
	assert.Equal(t, record.MaxMessage, record.MessageSize(record.TypeReceipt, payload), "the longest receipt accepted")
}
