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
	faults := &faultStore{Store: memory.New()}
	st := &boundedReads{Store: faults}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.held(t)
	loseNextUpdateFrom(faults, "voiding")
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
	ls.down.Store(true)
	for _, what := range []string{"held", "voiding"} {
		st.reads = 0
		got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
		require.ErrorIs(t, err, errLedgerDown, what)
		assert.Nil(t, got, what)
		s.requireState(t, v.ID, "voiding")
	}
	ls.down.Store(false)
	assert.Equal(t, heldBasket, s.balances(t), "the hold pending")
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
	for _, tc := range []struct {
		name  string
		made  func(*testing.T, *shop) payflow.ID
		state string // the state made leaves the request in
		call  func(context.Context, *shop, payflow.ID) (*payflow.PaymentView, error)
	}{
		{"cancel pending", pendingRequest, payflow.StatePending, callCancel},
		{"cancel held", heldRequest, payflow.StateHeld, callCancel},
		{"capture", heldRequest, payflow.StateHeld, callCapture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &faultStore{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			id := tc.made(t, s)
			before := s.balances(t)
			loseNextUpdateFrom(st, tc.state)
			got, err := tc.call(context.Background(), s, id)
			require.ErrorIs(t, err, errLost)
			assert.Nil(t, got)
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
	st.reads = 0
	got, err := s.Platform.Capture(context.Background(), s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.NotErrorIs(t, err, errManyReads)
	assert.Nil(t, got)
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, held, s.allBalances(t), "nothing moved")
}
