package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// lossyRefundStore is a lossyStore whose refund writes, while on, are
// lost alike: UpdateRefund, and Accept when it stores a refund (with the
// payment's reservation), fail one time in eight with errLost before
// writing and one time in eight with errLost after writing, the caller's
// records left as they were.
type lossyRefundStore struct {
	*lossyStore
}

func (s *lossyRefundStore) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	return s.lose(func() error { return s.Store.UpdateRefund(ctx, r, from, p, pFrom) }, func() func() {
		readR := *r
		if p == nil {
			return func() { *r = readR }
		}
		readP := *p
		return func() { *r, *p = readR, readP }
	})
}

func (s *lossyRefundStore) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if a.Refund == nil {
		return s.Store.Accept(ctx, a)
	}
	return s.lose(func() error { return s.Store.Accept(ctx, a) }, func() func() {
		ref, upd := a.Refund, a.Update
		readRef, readUpd := *ref, *upd
		return func() { a.Refund, a.Update, *ref, *upd = ref, upd, readRef, readUpd }
	})
}

// lose runs write, a refund write, while on: one time in eight it
// returns errLost without running it, one time in eight after it,
// write's records then put back as they were read: keep reads them
// before write runs and returns what puts them back.
func (s *lossyRefundStore) lose(write func() error, keep func() func()) error {
	if !s.on {
		return write()
	}
	switch s.rng.IntN(8) {
	case 0:
		return errLost
	case 1:
		restore := keep()
		if err := write(); err != nil {
			return err
		}
		restore()
		return errLost
	}
	return write()
}

// walkRefund is a signed refund request of TestRandomRefunds and what the
// platform answered it.
type walkRefund struct {
	id      payflow.ID
	amount  uint64
	counter uint64 // the seller card's counter in msg
	msg     []byte
	view    *payflow.RefundView // answered done
	refused error               // the sentinel that refused it for good
	// closedSeen is set once the refund was stored pending, its
	// transfer not made, while an account of the refund was closed: a
	// try of its transfer then (a send, RecoverSweep) has the ledger
	// keep its transfer ID failed.
	closedSeen bool
}

// TestRandomRefunds drives refunds of a payment of 690 EUR, captured in
// full or in part (auto or manual capture), through seeded random
// sequences of new refunds that fit in what is left of the capture or
// ask for more, the same signed refund sent again (after a done answer,
// a refusal or a lost reply), another refund under a used ID, the
// merchant's account or the payer's wallet closed and reopened,
// RecoverSweep, ExpireDue and clock advances, on a store that loses some
// of its refund writes or their replies.
//
// Every answer is the one the stored refund and the ledger allow: a done
// refund answers done with the same view (its receipt verifying with the
// platform's certificate and naming its one transfer), a refund refused
// for good (ErrFunds, ErrLimit, ErrClone, ErrConflict for another body)
// is refused again and never stored done, a new refund that fits in what
// the stored refunds leave is taken (ErrFunds while an account is
// closed), one that does not is ErrLimit. After every step, the payment
// reserves exactly its pending and done refunds, never more than
// captured; the ledger holds one refund transfer for each refund stored
// done and none for one stored failed or not stored; and the balances
// are the capture less the refunds moved: those answered done and those
// whose done answer was lost (stored done, or pending with the transfer
// made). At the end, with the writes no longer lost and the accounts
// reopened, RecoverSweep settles every pending refund, every refund sent
// again answers its end, and the balances are the capture less the
// refunds answered done.
func TestRandomRefunds(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 2))
		st := &lossyRefundStore{&lossyStore{Store: memory.New(), rng: rng}}
		manual := rng.IntN(2) == 0
		s := newShopOn(t, st, manual, paytest.Options{Platform: payflow.PlatformOptions{Logger: discardLogger()}})
		v, err := s.Create(paytest.Request(s.session, "EUR", 690))
		require.NoError(t, err)
		pv, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
		require.NoError(t, err)
		if manual {
			amount := uint64(rng.IntN(3)) * 300 // all, 300 or 600 of 690
			pv, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: amount})
			require.NoError(t, err)
		}
		require.Equal(t, payflow.StateCaptured, pv.State)
		captured := pv.Captured
		st.on = true

		w := &refundWalk{t: t, s: s, payment: v.ID, captured: captured}
		accounts := []ledger.ID{
			payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID),
			payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
		}
		closings := map[int]ledger.Transfer{}
		for step := range 40 {
			msg := fmt.Sprintf("seed %d step %d", seed, step)
			switch rng.IntN(12) {
			case 0, 1, 2:
				left := captured - w.reserved(msg)
				amount := left + 1 + uint64(rng.IntN(200)) // more than is left
				if left > 0 && rng.IntN(3) > 0 {
					amount = 1 + uint64(rng.IntN(int(left))) // fits
				}
				var id payflow.ID
				for i := range id {
					id[i] = byte(rng.UintN(256))
				}
				w.send(w.sign(id, amount), len(closings) > 0, msg+" new")
			case 3, 4:
				if len(w.refunds) == 0 {
					continue
				}
				r := w.refunds[rng.IntN(len(w.refunds))]
				if lost := w.unanswered(); len(lost) > 0 && rng.IntN(2) == 0 {
					r = lost[rng.IntN(len(lost))]
				}
				w.send(r, len(closings) > 0, msg+" sent again")
			case 5:
				stored := w.storedIDs(msg)
				if len(stored) == 0 {
					continue
				}
				id := stored[rng.IntN(len(stored))]
				w.send(w.sign(id.ID, id.Amount+1+uint64(rng.IntN(100))), len(closings) > 0, msg+" used ID")
			case 6:
				i := rng.IntN(len(accounts))
				toggleAccount(t, s, closings, i, accounts[i], eurLedger)
			case 7:
				reopenAll(t, s, closings)
			case 8, 9:
				s.Platform.RecoverSweep(ctx, 0)
			case 10:
				s.Platform.ExpireDue(ctx, 0)
			case 11:
				s.Clock.Advance(time.Duration(rng.IntN(60)) * time.Second)
				s.RefreshCRLs()
			}
			w.check(len(closings) > 0, msg)
		}

		st.on = false
		reopenAll(t, s, closings)
		s.Clock.Advance(time.Hour)
		s.RefreshCRLs()
		for range 2 {
			_, err := s.Platform.RecoverSweep(ctx, 0)
			require.NoError(t, err)
		}
		msg := fmt.Sprintf("seed %d settled", seed)
		for _, id := range w.storedIDs(msg) {
			require.NotEqual(t, payflow.RefundPending, id.State, "%s: refund %v settled", msg, id.ID)
		}
		w.check(false, msg)
		for _, r := range w.refunds {
			w.send(r, false, msg+" sent again")
		}
		require.Empty(t, w.unanswered(), "%s: every refund answered done or refused", msg)
		w.check(false, msg)
		var done uint64
		for _, r := range w.refunds {
			if r.view != nil {
				done += r.amount
			}
		}
		require.Equal(t, done, w.reserved(msg), "%s: only the refunds answered done reserved", msg)
		require.Equal(t, [2]payflow.Balance{{Posted: funds - captured + done}, {Posted: captured - done}}, s.balances(t),
			"%s: the capture less the refunds answered done", msg)
		require.NoError(t, s.Ledger.Verify(ctx))
	}
}

// refundWalk is the state of a seed of TestRandomRefunds: the captured
// payment and the refunds signed for it, in signing order.
type refundWalk struct {
	t        *testing.T
	s        *shop
	payment  payflow.ID
	captured uint64
	refunds  []*walkRefund
	spent    uint64 // the highest counter of the seller card's refunds that the platform committed
}

// sign has the seller card sign a refund of amount EUR under id.
func (w *refundWalk) sign(id payflow.ID, amount uint64) *walkRefund {
	rr := &record.RefundRequest{RefundID: id[:], RequestID: w.payment[:], Amount: amount, Currency: "EUR"}
	r := &walkRefund{id: id, amount: amount, msg: w.s.seller.MustSign(rr)}
	var signed record.RefundRequest
	require.NoError(w.t, record.Open(r.msg, &signed))
	r.counter = signed.Counter
	w.refunds = append(w.refunds, r)
	return r
}

// stored returns the refund stored under id, nil for none.
func (w *refundWalk) stored(id payflow.ID) *payflow.RefundRecord {
	w.t.Helper()
	r, err := w.s.Store.Refund(context.Background(), id)
	if errors.Is(err, payflow.ErrNotFound) {
		return nil
	}
	require.NoError(w.t, err)
	return r
}

// storedIDs returns the refunds stored under the IDs of w's refunds.
func (w *refundWalk) storedIDs(msg string) []*payflow.RefundRecord {
	w.t.Helper()
	var out []*payflow.RefundRecord
	seen := map[payflow.ID]bool{}
	for _, r := range w.refunds {
		if seen[r.id] {
			continue
		}
		seen[r.id] = true
		if stored := w.stored(r.id); stored != nil {
			require.Equal(w.t, w.payment, stored.RequestID, msg)
			out = append(out, stored)
		}
	}
	return out
}

// reserved returns what the payment holds as refunded (reserved or
// made), after checking that it is captured as at the start.
func (w *refundWalk) reserved(msg string) uint64 {
	w.t.Helper()
	p, err := w.s.Store.Payment(context.Background(), w.payment)
	require.NoError(w.t, err)
	require.Equal(w.t, payflow.StateCaptured, p.State, msg)
	require.Equal(w.t, w.captured, p.Captured, msg)
	return p.Refunded
}

// unanswered returns the refunds that the platform has neither answered
// done nor refused for good.
func (w *refundWalk) unanswered() []*walkRefund {
	var out []*walkRefund
	for _, r := range w.refunds {
		if r.view == nil && r.refused == nil {
			out = append(out, r)
		}
	}
	return out
}

// moved returns the refund transfers that the ledger holds, by ID.
func (w *refundWalk) moved(msg string) map[ledger.ID]ledger.Transfer {
	w.t.Helper()
	ts, err := w.s.Ledger.GetAccountTransfers(context.Background(), ledger.AccountFilter{
		AccountID: payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID),
		Code:      payflow.TransferRefund, Limit: ledger.BatchMax, Flags: ledger.AccountFilterDebits,
	})
	require.NoError(w.t, err)
	require.Less(w.t, len(ts), ledger.BatchMax, "%s: all listed", msg)
	out := map[ledger.ID]ledger.Transfer{}
	for _, tr := range ts {
		_, twice := out[tr.ID]
		require.False(w.t, twice, "%s: transfer %v listed twice", msg, tr.ID)
		out[tr.ID] = tr
	}
	return out
}

// send sends r and checks the answer against the refund stored under its
// ID and the ledger before the call (closed: an account of the refund is
// closed), and the outcome stored after it against the answer.
func (w *refundWalk) send(r *walkRefund, closed bool, msg string) {
	t := w.t
	t.Helper()
	msg = fmt.Sprintf("%s: refund %v of %d", msg, r.id, r.amount)
	tid := payflow.TransferID(r.id, 0, 0, 4)
	before := w.stored(r.id)
	_, made := w.moved(msg)[tid]
	left := w.captured - w.reserved(msg)

	var want []error // nil for done
	switch {
	case before != nil && string(before.Request) != string(r.msg):
		want = []error{payflow.ErrConflict}
	case before != nil && before.State == payflow.RefundDone:
		want = []error{nil}
	case before != nil && before.State == payflow.RefundFailed:
		require.Equal(t, "insufficient_funds", before.Failure, msg)
		want = []error{payflow.ErrFunds}
	case before != nil && made: // pending, its transfer made
		want = []error{nil, errLost}
	case before != nil && closed:
		want = []error{payflow.ErrFunds, errLost}
	case before != nil && r.closedSeen:
		want = []error{nil, payflow.ErrFunds, errLost}
	case before != nil:
		want = []error{nil, errLost}
	case r.amount > left && r.counter <= w.spent:
		want = []error{payflow.ErrClone}
	case r.amount > left:
		want = []error{payflow.ErrLimit}
	case r.counter <= w.spent:
		want = []error{payflow.ErrClone, errLost}
	case closed:
		want = []error{payflow.ErrFunds, errLost}
	default:
		want = []error{nil, errLost}
	}
	if r.view != nil {
		require.Equal(t, []error{nil}, want, "%s: answered done, stored %+v", msg, before)
	}
	if r.refused != nil {
		require.NotContains(t, want, nil, "%s: refused for good, stored %+v", msg, before)
	}

	v, err := w.s.Platform.Refund(context.Background(), &payflow.RefundRequest{Refund: r.msg})
	after := w.stored(r.id)
	mine := after != nil && string(after.Request) == string(r.msg)
	if mine {
		w.spent = max(w.spent, r.counter)
	}
	switch {
	case err == nil:
		require.Contains(t, want, nil, "%s: answered done", msg)
		require.True(t, mine, msg)
		require.Equal(t, payflow.RefundDone, after.State, msg)
		require.Equal(t, &payflow.RefundView{
			ID: r.id, RequestID: w.payment, Amount: r.amount, Currency: "EUR", Refunded: after.Refunded, Receipt: after.Receipt,
		}, v, msg)
		if r.view != nil {
			require.Equal(t, r.view, v, "%s: the same view again", msg)
		} else {
			rc := w.s.VerifiedReceipt(t, v.Receipt)
			require.Equal(t, record.ReceiptRefund, rc.Kind, msg)
			require.Equal(t, r.id[:], rc.RefundID, msg)
			require.Equal(t, w.payment[:], rc.RequestID, msg)
			require.Equal(t, r.amount, rc.Amount, msg)
			require.Equal(t, "EUR", rc.Currency, msg)
			require.Equal(t, [][]byte{tid[:]}, rc.TransferIDs, msg)
			r.view = v
		}
	case errors.Is(err, errLost):
		require.Contains(t, want, errLost, "%s: %v", msg, err)
	default:
		code := payflow.AsError(err)
		found := false
		for _, e := range want {
			if e != nil && e != errLost && errors.Is(err, e) {
				found = true
				require.Equal(t, payflow.AsError(e).Code, code.Code, msg)
				r.refused = e
			}
		}
		require.True(t, found, "%s: %v, want one of %v (stored %+v)", msg, err, want, before)
		switch {
		case errors.Is(err, payflow.ErrFunds):
			require.True(t, mine, msg)
			require.Equal(t, payflow.RefundFailed, after.State, msg)
		case errors.Is(err, payflow.ErrConflict):
			require.False(t, mine, msg)
			require.Equal(t, before, after, msg)
		default: // ErrLimit, ErrClone: nothing stored
			require.Nil(t, after, msg)
			if errors.Is(err, payflow.ErrLimit) {
				w.spent = max(w.spent, r.counter)
			}
		}
	}
	if r.view != nil {
		require.NoError(t, err, msg)
	}
	if r.refused != nil {
		require.Error(t, err, msg)
	}
}

// check checks the refunds of w as stored and answered against the
// payment's reservation, the ledger's refund transfers and the
// balances (closed: an account of the refunds is closed).
func (w *refundWalk) check(closed bool, msg string) {
	t := w.t
	t.Helper()
	stored := map[payflow.ID]*payflow.RefundRecord{}
	var reserved uint64
	for _, r := range w.storedIDs(msg) {
		stored[r.ID] = r
		if r.State != payflow.RefundFailed {
			reserved += r.Amount
		}
	}
	require.Equal(t, reserved, w.reserved(msg), "%s: the payment reserves its pending and done refunds", msg)
	require.LessOrEqual(t, reserved, w.captured, msg)

	transfers := w.moved(msg)
	var moved, done uint64
	n := 0 // the stored refunds whose transfer the ledger holds
	for id, r := range stored {
		tr, made := transfers[payflow.TransferID(id, 0, 0, 4)]
		switch {
		case r.State == payflow.RefundDone:
			require.True(t, made, "%s: refund %v done, its transfer made", msg, id)
		case r.State == payflow.RefundFailed:
			require.False(t, made, "%s: refund %v failed, no transfer", msg, id)
		case !made && closed:
			for _, wr := range w.refunds {
				if wr.id == id {
					wr.closedSeen = true
				}
			}
		}
		if made {
			require.Equal(t, r.Amount, tr.Amount, msg)
			require.Equal(t, payflow.AccountID(payflow.AccountWallet, eurLedger, w.s.shopper.ID), tr.CreditAccountID, msg)
			require.Equal(t, ledger.ID(w.payment), tr.UserData128, msg)
			moved += tr.Amount
			n++
		}
	}
	require.Len(t, transfers, n, "%s: one transfer per refund moved, none other", msg)
	for _, r := range w.refunds {
		if r.view == nil {
			continue
		}
		got := stored[r.id]
		require.NotNil(t, got, msg)
		require.Equal(t, r.msg, got.Request, msg)
		require.Equal(t, payflow.RefundDone, got.State, "%s: refund %v answered done stays done", msg, r.id)
		require.Equal(t, r.view.Receipt, got.Receipt, msg)
		done += r.amount
	}
	require.LessOrEqual(t, done, moved, msg)
	require.LessOrEqual(t, moved, w.captured, msg)
	require.Equal(t, [2]payflow.Balance{{Posted: funds - w.captured + moved}, {Posted: w.captured - moved}}, w.s.balances(t), msg)
}
