package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// TestConsentSentAgainAfterSettlement: the very consent that the platform
// accepted and settled (held, captured, refunded in part, a capture under
// way), sent again once its reply was lost, before or after its nonce
// expired, is answered with the request's view, as the payer's read shows
// it, its receipt the stored one; no money moves and the request stays as
// it was.
func TestConsentSentAgainAfterSettlement(t *testing.T) {
	ctx := context.Background()
	late := payflow.DefaultRequestTTL + pki.DefaultNonceTTL + time.Second
	for _, tt := range []struct {
		name   string
		manual bool
		// after acts on the request once the consent is settled.
		after func(t *testing.T, s *shop, id payflow.ID)
		state string
	}{
		{"held", true, func(*testing.T, *shop, payflow.ID) {}, payflow.StateHeld},
		{"captured", false, func(*testing.T, *shop, payflow.ID) {}, payflow.StateCaptured},
		{"captured, nonce expired", false, func(_ *testing.T, s *shop, _ payflow.ID) {
			s.Clock.Advance(late)
			s.RefreshCRLs()
		}, payflow.StateCaptured},
		{"captured manually", true, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id, Amount: 500})
			require.NoError(t, err)
		}, payflow.StateCaptured},
		{"refunded", false, func(t *testing.T, s *shop, id payflow.ID) {
			rid := payflow.ID([]byte("refund-000000001"))
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: rid[:], RequestID: id[:], Amount: 200, Currency: "EUR"})
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err)
		}, payflow.StateCaptured},
		{"capture under way", true, func(t *testing.T, s *shop, id payflow.ID) {
			r, err := s.Store.Payment(ctx, id)
			require.NoError(t, err)
			r.State, r.CaptureAmount = "capturing", r.Amount
			require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateHeld))
		}, "capturing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, tt.manual, paytest.Options{})
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			first, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.NoError(t, err) // its reply lost on the way
			tt.after(t, s, v.ID)
			s.shopper.Login(record.RoleShopper)
			read, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			before := s.balances(t)

			again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.NoError(t, err)
			assert.Equal(t, read, again, "the payer's read")
			if first.State == payflow.StateCaptured {
				assert.Equal(t, first.Receipt, again.Receipt, "the stored receipt")
			}
			assert.Equal(t, before, s.balances(t), "no money moved")
			s.requireState(t, v.ID, tt.state)
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestConsentSentAgainAfterPaymentEnded: the consent that the platform
// accepted and held, sent again once the payment ended without a capture
// (cancelled, or expired at its hold's expiry, which the call's read
// settles), is answered with the request's view as the payer's read
// shows it, cancelled or expired, as a copy of a consent whose payment
// stands is: the consent went through, and its hold was voided since.
// No money moves: the payer has every unit back.
func TestConsentSentAgainAfterPaymentEnded(t *testing.T) {
	ctx := context.Background()
	for _, cancelled := range []bool{true, false} {
		t.Run(fmt.Sprintf("cancelled=%v", cancelled), func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.NoError(t, err)
			want := payflow.StateCancelled
			if cancelled {
				_, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
				require.NoError(t, err)
			} else {
				// Held, at its hold's expiry: the call's read expires it.
				s.Clock.Advance(payflow.DefaultHoldTTL)
				s.RefreshCRLs()
				want = payflow.StateExpired
				s.requireState(t, v.ID, payflow.StateHeld)
			}
			again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.NoError(t, err)
			assert.Equal(t, want, again.State)
			assert.Empty(t, again.Receipt)
			s.requireState(t, v.ID, want)
			s.shopper.Login(record.RoleShopper)
			read, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, read, again, "the payer's read")
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestConsentCopiesRefusedAfterSettlement: once a consent is settled,
// another consent of the payer over the same nonce, the settled consent
// with a byte changed, and a consent of another card to the request are
// refused as before, and so is the settled consent itself once its card
// is revoked (its chain checked before any answer); nothing moves.
func TestConsentCopiesRefusedAfterSettlement(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	c := s.shopper.MustSign(paytest.Consent(pv))
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	before := s.balances(t)

	other := s.shopper.MustSign(paytest.Consent(pv)) // the same nonce, a later counter
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: other})
	assert.ErrorIs(t, err, payflow.ErrReplay, "another consent of the payer")

	altered := bytes.Clone(c)
	altered[len(altered)-1] ^= 1
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: altered})
	assert.ErrorIs(t, err, payflow.ErrSignature, "the consent altered")

	stranger := s.seller.MustSign(paytest.Consent(pv))
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: stranger})
	assert.ErrorIs(t, err, payflow.ErrForbidden, "another card's consent")

	s.Revoke(s.shopper)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	assert.ErrorIs(t, err, payflow.ErrCard, "the settled consent of a card revoked since")

	assert.Equal(t, before, s.balances(t))
	s.requireState(t, v.ID, payflow.StateCaptured)
}

// TestConsentCopyWhileApproving: a copy of a consent that arrives while
// the first call is still settling it (the request approving, the ledger
// already holding and capturing) is answered with that settlement's view
// and receipt, and the money moves once.
func TestConsentCopyWhileApproving(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	var copyView *payflow.PaymentView
	var copyErr error
	st.hook = func(p *payflow.PaymentRecord, from string) error {
		if from == payflow.StateApproving {
			st.hook = nil
			copyView, copyErr = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
		}
		return nil
	}
	first, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	require.NoError(t, copyErr)
	assert.Equal(t, payflow.StateCaptured, first.State)
	assert.Equal(t, first.Receipt, copyView.Receipt)
	assert.Equal(t, basketPaid, s.balances(t), "charged once")

	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, first.Receipt, again.Receipt)
	assert.Equal(t, basketPaid, s.balances(t), "charged once")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestClientApproveAfterLostReply: a consent that the platform settled,
// whose reply was never stored under its Idempotency-Key (the process
// died before it could), sent again by a lone Client.Approve call, is
// answered with the request's view and its receipt: the purchase is
// reported paid, and the shopper charged once.
func TestClientApproveAfterLostReply(t *testing.T) {
	ctx := context.Background()
	s := paytest.NewShop(paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{}), false)
	v, err := s.Create(paytest.Request(s.Session, "EUR", 100))
	require.NoError(t, err)
	c := s.Consent(v.ID)
	first, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	before := s.Balances("EUR")

	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	t.Cleanup(srv.Close)
	again, err := mustClient(t, srv.URL, payflow.ClientOptions{}).Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, again.State)
	assert.Equal(t, first.Receipt, again.Receipt)
	assert.Equal(t, before, s.Balances("EUR"), "charged once")
}

// TestConsentRefusedConflictSentAgain: a consent refused with conflict
// before it is accepted, its payer's wallet ID taken in the ledger (held
// with other flags), spends neither its nonce nor its counter, as
// PROTOCOL.md §6.4 has it: the same consent sent again gets the same
// refusal, not nonce_replayed, the request pending, nothing of the
// consent stored and no money moved.
func TestConsentRefusedConflictSentAgain(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob, id, v := takenWalletRequest(t, s)
	before := s.balances(t)
	found, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
	require.NoError(t, err)
	pv, err := s.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	consent := bob.MustSign(paytest.Consent(pv))
	want := takenError(id, payflow.AccountWallet, eurLedger, ledger.AccountExistsWithDifferentFlags)
	for _, what := range []string{"first", "sent again", "sent a third time"} {
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		requireRefusedPending(t, s, err, want, v.ID)
		assert.Equal(t, 409, payflow.AsError(err).Status, what)
		assert.Equal(t, before, s.balances(t), "nothing moved: %s", what)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), what)
		now, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
		require.NoError(t, err)
		assert.Equal(t, found, now, "the taken wallet as it stood: %s", what)
	}
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestConsentTakenOnceSettlementEnded: a consent sent while another
// consent's settlement of the request is under way (approving) is
// refused with conflict, spending neither its nonce nor its counter, and
// so again when sent again, no money moved; once that settlement ended
// with its hold refused (the payer's wallet short), the request pending
// again, the same consent is taken and pays, once the wallet was funded.
func TestConsentTakenOnceSettlementEnded(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	const amount = funds + 500
	v, err := s.Create(paytest.Request(s.session, "EUR", amount))
	require.NoError(t, err)
	first := s.consent(t, v.ID)
	second := s.consent(t, v.ID) // over another nonce, a later counter
	s.recordConsent(t, v.ID, first, "")
	for _, what := range []string{"first", "sent again"} {
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: second})
		require.ErrorIs(t, err, payflow.ErrConflict, what)
		assert.EqualError(t, err, "payflow: conflicting request: a consent to the request is being settled", what)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved: %s", what)
		s.requireState(t, v.ID, payflow.StateApproving)
	}

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: first})
	require.ErrorIs(t, err, payflow.ErrFunds, "the settlement under way ends, its hold refused")
	s.requireState(t, v.ID, payflow.StatePending)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{3}, s.shopper.ID, "EUR", 500))

	got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: second})
	require.NoError(t, err, "the consent refused with conflict is taken")
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, uint64(amount), got.Captured)
	assert.Equal(t, [2]payflow.Balance{{Posted: 0}, {Posted: amount}}, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}
