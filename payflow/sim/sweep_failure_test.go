package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// Transfer kinds of payflow.TransferID.
const (
	kindHold   byte = 1
	kindPost   byte = 2
	kindVoid   byte = 3
	kindRefund byte = 4
)

// sweepFailures runs scenario, which leaves one settlement or refund
// under way by a crash at the second store write of its call (the ledger
// transfer), lost or made (crash), then restarts the platform, for each
// write of the recovery sweep after the restart failing, made or not: the
// sweep's first write (its ledger transfer, made again or answered as
// made) or its second (the record of the outcome). The timer's later
// rounds run the sweep again until nothing is under way: they finish the
// item once, unless the failed write was the record, made (the failed
// sweep finished it). Then nothing is under way and every balance is the
// model's (check).
func sweepFailures(t *testing.T, scenario func(t *testing.T, w *world, crash func(call func() error))) {
	t.Helper()
	for _, crashAfter := range []bool{false, true} {
		for _, fail := range []writeFault{{0, false}, {0, true}, {1, false}, {1, true}} {
			name := fmt.Sprintf("crash made %v/sweep write %d made %v", crashAfter, fail.n, fail.afterCommit)
			t.Run(name, func(t *testing.T) {
				w := calmWorld(t, 5)
				crash := func(call func() error) {
					t.Helper()
					w.fuse.arm(1, crashAfter)
					require.ErrorIs(t, call(), errCrashed)
					require.True(t, w.fuse.disarm())
					w.failAt = &fail
				}
				scenario(t, w, crash)
				assert.Nil(t, w.failAt, "the sweep ran with the write failing")
				assert.Equal(t, 1, w.stats.Ops["store-write-failed"])
				assert.Equal(t, 1, w.stats.Ops["recover-sweep-failed"])
				again := 1
				if fail == (writeFault{1, true}) {
					again = 0
				}
				assert.Equal(t, again, w.stats.Ops["recovered-after-failed-sweep"], "finished by a later round")
				_, left, err := w.underWay()
				require.NoError(t, err)
				assert.False(t, left, "a settlement or refund under way")
				require.NoError(t, w.check())
			})
		}
	}
}

// moved returns the amount of the ledger transfer under each of ids, 0
// for one that the ledger does not hold.
func moved(t *testing.T, w *world, ids ...ledger.ID) []uint64 {
	t.Helper()
	ts, err := w.led.LookupTransfers(w.ctx, ids)
	require.NoError(t, err)
	byID := map[ledger.ID]uint64{}
	for _, tr := range ts {
		require.NotContains(t, byID, tr.ID)
		byID[tr.ID] = tr.Amount
	}
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// legs returns the transfer IDs of the money leg of p's hold, post and
// void, of the attempt the store holds.
func legs(t *testing.T, w *world, p *purchase) []ledger.ID {
	t.Helper()
	r, err := w.ps.Payment(w.ctx, p.id)
	require.NoError(t, err)
	return []ledger.ID{
		payflow.TransferID(p.id, r.Attempt, 0, kindHold),
		payflow.TransferID(p.id, r.Attempt, 0, kindPost),
		payflow.TransferID(p.id, r.Attempt, 0, kindVoid),
	}
}

// stored is the state of p in the durable store.
func stored(t *testing.T, w *world, p *purchase) string {
	t.Helper()
	r, err := w.ps.Payment(w.ctx, p.id)
	require.NoError(t, err)
	return r.State
}

// balances returns the money balances of p's shopper and merchant.
func balances(t *testing.T, w *world, p *purchase) (shopper, merchant payflow.Balance) {
	t.Helper()
	s, err := w.balance(p.shopper.id, currency)
	require.NoError(t, err)
	m, err := w.balance(p.m.id, currency)
	require.NoError(t, err)
	return s, m
}

// capturedOnce checks p captured in full as v shows it, after the
// shopper's and the merchant's balances were s0 and m0 before p was paid:
// the receipt names the consent and the amount (settled), the money moved
// from the shopper to the merchant once, by one hold and one post and no
// void.
func capturedOnce(t *testing.T, w *world, p *purchase, v *payflow.PaymentView, s0, m0 payflow.Balance) {
	t.Helper()
	assert.Equal(t, p.amount, v.Captured)
	require.NotNil(t, v.Receipt)
	require.NoError(t, w.settled(p, v))
	s, m := balances(t, w, p)
	assert.Equal(t, payflow.Balance{Posted: s0.Posted - p.amount}, s)
	assert.Equal(t, payflow.Balance{Posted: m0.Posted + p.amount}, m)
	assert.Equal(t, []uint64{p.amount, p.amount, 0}, moved(t, w, legs(t, w, p)...))
}

// held has the shopper of a new request to the merchant that captures by
// hand consent to it, and returns it held, the model moved along.
func held(t *testing.T, w *world) *purchase {
	t.Helper()
	p, consent := heldRequest(t, w)
	v, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, v.State)
	p.holdExpiresAt = v.HoldExpiresAt
	p.settledBy = consent
	require.NoError(t, w.transition(p, payflow.StateHeld, 0))
	return p
}

// loggedIn logs c in as its role, and returns its token.
func loggedIn(t *testing.T, w *world, c *card, role record.Role) string {
	t.Helper()
	ok, err := w.login(c, role)
	require.NoError(t, err)
	require.True(t, ok)
	return c.token
}

// TestApprovalAfterAFailedSweep kills the platform during a consent, once
// the consent is accepted and its settlement sent (lost, or made in the
// ledger), which leaves the request approving; the recovery sweep after
// the restart fails, and a later one settles it once. A request captured
// by hand is recorded held: the shopper's money held and the merchant's
// incoming, by one hold and no post or void, no receipt, the hold ending
// at the consent's acceptance plus the hold TTL. One captured at once is
// recorded captured: the money moved from the shopper to the merchant
// once, by one hold and one post and no void, and the receipt the payer's
// phone reads names the consent and the amount.
func TestApprovalAfterAFailedSweep(t *testing.T) {
	for _, manual := range []bool{true, false} {
		t.Run(fmt.Sprintf("manual %v", manual), func(t *testing.T) {
			sweepFailures(t, func(t *testing.T, w *world, crash func(func() error)) {
				p, consent := consentedRequest(t, w, manual)
				s0, m0 := balances(t, w, p)
				acceptedAt := w.now
				crash(func() error {
					_, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: consent})
					return err
				})
				require.Equal(t, payflow.StateApproving, stored(t, w, p))

				want := payflow.StateCaptured
				if manual {
					want = payflow.StateHeld
				}
				require.NoError(t, w.approveCrashed(p, consent, want, nil, acceptedAt))
				assert.Equal(t, want, p.state)
				v, err := w.viewAs(p, p.shopper)
				require.NoError(t, err)
				assert.Equal(t, want, v.State)
				if manual {
					s, m := balances(t, w, p)
					assert.Nil(t, v.Receipt)
					assert.Equal(t, acceptedAt.Add(holdTTL), v.HoldExpiresAt)
					assert.Equal(t, payflow.Balance{Posted: s0.Posted, Held: p.amount}, s)
					assert.Equal(t, payflow.Balance{Posted: m0.Posted, Incoming: p.amount}, m)
					assert.Equal(t, []uint64{p.amount, 0, 0}, moved(t, w, legs(t, w, p)...))
					return
				}
				capturedOnce(t, w, p, v, s0, m0)
			})
		})
	}
}

// TestCaptureAndVoidAfterAFailedSweep kills the platform during the
// capture or the cancel of a held payment, once its posts or its void are
// sent (lost, or made in the ledger), which leaves it capturing or
// voiding; the recovery sweep after the restart fails, and a later one
// posts or voids once and records the request captured or cancelled.
// Captured, the money moved from the shopper to the merchant once, by one
// hold and one post and no void, and the receipt the seller's phone reads
// names the consent and the amount; cancelled, the shopper's money is
// released and the merchant's incoming gone, by one hold and one void and
// no post, and there is no receipt.
func TestCaptureAndVoidAfterAFailedSweep(t *testing.T) {
	for _, tt := range []struct {
		what, underWay, want string
		call                 func(w *world, token string, id payflow.ID) error
		paid                 bool // the shopper paid the merchant
	}{
		{"capture", "capturing", payflow.StateCaptured, func(w *world, token string, id payflow.ID) error {
			_, err := w.api.Capture(w.ctx, token, &payflow.CaptureRequest{RequestID: id})
			return err
		}, true},
		{"cancel", "voiding", payflow.StateCancelled, func(w *world, token string, id payflow.ID) error {
			_, err := w.api.Cancel(w.ctx, token, id)
			return err
		}, false},
	} {
		t.Run(tt.what, func(t *testing.T) {
			sweepFailures(t, func(t *testing.T, w *world, crash func(func() error)) {
				p := held(t, w)
				s0, m0 := balances(t, w, p)
				token := loggedIn(t, w, p.m.seller, record.RoleSeller)
				crash(func() error { return tt.call(w, token, p.id) })
				require.Equal(t, tt.underWay, stored(t, w, p))

				v, err := w.pollAfterCrash("a crash during "+tt.what, p, p.m.seller, tt.want, nil)
				require.NoError(t, err)
				assert.Equal(t, tt.want, v.State)
				assert.Equal(t, tt.want, p.state)
				if !tt.paid {
					s, m := balances(t, w, p)
					assert.Nil(t, v.Receipt)
					assert.Equal(t, payflow.Balance{Posted: s0.Posted}, s)
					assert.Equal(t, payflow.Balance{Posted: m0.Posted}, m)
					assert.Equal(t, []uint64{p.amount, 0, p.amount}, moved(t, w, legs(t, w, p)...))
					return
				}
				capturedOnce(t, w, p, v, s0, m0)
			})
		})
	}
}

// TestRefundAfterAFailedSweep kills the platform during a refund of part
// of a captured payment, once its transfer is sent (lost, or made in the
// ledger), which leaves it pending; the recovery sweep after the restart
// fails, and a later one refunds once and records it done: the refund
// sent again is answered done with the amount refunded and a receipt
// naming it, the payment shows it refunded, and the money went back from
// the merchant to the shopper once, by one transfer.
func TestRefundAfterAFailedSweep(t *testing.T) {
	sweepFailures(t, func(t *testing.T, w *world, crash func(func() error)) {
		p := held(t, w)
		token := loggedIn(t, w, p.m.seller, record.RoleSeller)
		v, err := w.api.Capture(w.ctx, token, &payflow.CaptureRequest{RequestID: p.id})
		require.NoError(t, err)
		require.NoError(t, w.transition(p, payflow.StateCaptured, v.Captured))
		s0, m0 := balances(t, w, p)
		amount := p.amount / 2
		id := w.newID()
		r := &refund{id: id, amount: amount}
		r.msg, err = p.m.seller.v.Card.SignRefundRequest(&record.RefundRequest{
			RefundID: id[:], RequestID: p.id[:], Amount: amount, Currency: currency,
		})
		require.NoError(t, err)
		call := func() (*payflow.RefundView, error) {
			return w.api.Refund(w.ctx, &payflow.RefundRequest{Refund: r.msg})
		}
		crash(func() error { _, err := call(); return err })
		ref, err := w.ps.Refund(w.ctx, id)
		require.NoError(t, err)
		require.Equal(t, payflow.RefundPending, ref.State)

		require.NoError(t, w.restart("a crash during a refund"))
		ref, err = w.ps.Refund(w.ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.RefundDone, ref.State)
		rv, err := call()
		require.NoError(t, err)
		assert.Equal(t, id, rv.ID)
		assert.Equal(t, amount, rv.Amount)
		assert.Equal(t, amount, rv.Refunded)
		r.view = rv
		require.NoError(t, w.verifyRefundReceipt(p, r, rv))
		p.refunds = append(p.refunds, r)
		p.refunded += amount
		p.shopper.posted += amount
		p.m.posted -= amount

		pv, err := w.viewAs(p, p.m.seller)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, pv.State)
		assert.Equal(t, amount, pv.Refunded)
		s, m := balances(t, w, p)
		assert.Equal(t, payflow.Balance{Posted: s0.Posted + amount}, s)
		assert.Equal(t, payflow.Balance{Posted: m0.Posted - amount}, m)
		assert.Equal(t, []uint64{amount}, moved(t, w, payflow.TransferID(id, 0, 0, kindRefund)))
		assert.Equal(t, []uint64{p.amount, p.amount, 0}, moved(t, w, legs(t, w, p)...))
	})
}
