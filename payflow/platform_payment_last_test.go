package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestCancelOfVoidingAndCancelledRequestEnds: a cancellation sent again
// once the first one's void was made but its outcome not recorded (the
// request left voiding) finishes the void and answers cancelled, and a
// cancellation of the cancelled request answers it as it is, each within
// a few reads of the request (boundedReads), not going round again and
// again: the hold voided once, the payer's funds back.
func TestCancelOfVoidingAndCancelledRequestEnds(t *testing.T) {
	ctx := context.Background()
	hooked := &updateHook{Store: memory.New()}
	st := &boundedReads{Store: hooked}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.held(t)
	hooked.hook = loseUpdateFrom(hooked, "voiding")
	st.reads = 0
	_, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.ErrorIs(t, err, errLost)
	s.requireState(t, v.ID, "voiding")
	cancelled := [2]payflow.Balance{{Posted: funds}, {}}

	st.reads = 0
	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err, "voiding")
	assert.Equal(t, payflow.StateCancelled, got.State)
	s.requireState(t, v.ID, payflow.StateCancelled)
	assert.Equal(t, cancelled, s.balances(t))

	st.reads = 0
	again, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err, "cancelled")
	assert.Equal(t, got, again)
	s.requireState(t, v.ID, payflow.StateCancelled)
	assert.Equal(t, cancelled, s.balances(t), "voided once")
}

// TestCancelOfVoidingRequestWithLedgerDown: a cancellation of a held
// payment whose void the ledger, out of reach, does not make fails with
// the ledger's error, the request left voiding; sent again while the
// ledger is still out of reach it fails the same way within a few reads
// of the request (boundedReads), not going round again and again, the
// hold still pending; once the ledger is back the cancellation voids the
// hold and answers cancelled.
func TestCancelOfVoidingRequestWithLedgerDown(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	st := &boundedReads{Store: memory.New()}
	s := newShopOnLedger(t, st, ls, true, paytest.Options{})
	v := s.held(t)
	held := s.balances(t)
	ls.down.Store(true)
	for _, what := range []string{"held", "voiding"} {
		st.reads = 0
		got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
		require.ErrorIs(t, err, errLedgerDown, what)
		assert.Nil(t, got, what)
		s.requireState(t, v.ID, "voiding")
	}
	ls.down.Store(false)
	assert.Equal(t, held, s.balances(t), "the hold pending")
	st.reads = 0
	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	s.requireState(t, v.ID, payflow.StateCancelled)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestCancelAndCaptureUpdateLost: a cancellation, or a capture, whose
// record the store fails (a dropped connection, not a lost
// compare-and-set) fails with the store's error and no view: the request
// stays as stored, pending or held, and no money moves, the hold still
// pending.
func TestCancelAndCaptureUpdateLost(t *testing.T) {
	ctx := context.Background()
	cancel := func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
		return s.Platform.Cancel(ctx, s.seller.Token, id)
	}
	for _, tc := range []struct {
		name, state string
		call        func(s *shop, id payflow.ID) (*payflow.PaymentView, error)
	}{
		{"cancel pending", payflow.StatePending, cancel},
		{"cancel held", payflow.StateHeld, cancel},
		{"capture", payflow.StateHeld, func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			id := s.held(t).ID
			if tc.state == payflow.StatePending {
				v, _ := s.request(t)
				id = v.ID
			}
			before := s.balances(t)
			st.hook = loseUpdateFrom(st, tc.state)
			got, err := tc.call(s, id)
			require.ErrorIs(t, err, errLost)
			assert.Nil(t, got)
			assert.Nil(t, st.hook, "the update was tried")
			s.requireState(t, id, tc.state)
			assert.Equal(t, before, s.balances(t), "nothing moved")
		})
	}
}

// TestCaptureWithClosedAccountEnds: a capture of a held payment one of
// whose accounts is closed is refused with conflict within a few reads of
// the request (boundedReads), not going round again and again: the
// request stays held and nothing moves.
func TestCaptureWithClosedAccountEnds(t *testing.T) {
	st := &boundedReads{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v := heldTicketRequest(t, s)
	c := closedCases[0]
	closeAccount(t, s, c.account(s), c.lc)
	before := s.allBalances(t)
	st.reads = 0
	got, err := s.Platform.Capture(context.Background(), s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.NotErrorIs(t, err, errManyReads)
	assert.Nil(t, got)
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, before, s.allBalances(t), "nothing moved")
}

// loseUpdateFrom returns a hook of st that fails the next update of a
// payment from state from with errLost, as a dropped connection would,
// and then leaves the updates alone.
func loseUpdateFrom(st *updateHook, from string) func(*payflow.PaymentRecord, string) error {
	return func(_ *payflow.PaymentRecord, was string) error {
		if was != from {
			return nil
		}
		st.hook = nil
		return errLost
	}
}
