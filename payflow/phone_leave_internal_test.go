package payflow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
)

// selectSession has p select the session id, whose proof names its EID of
// epoch, and make requests there up to index next, as Select and Request
// leave a phone.
func selectSession(p *phone, id ID, epoch, next uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keepIndexLocked(id, epoch)
	p.session = &SessionView{ID: id, State: SessionPaired}
	p.moveOnLocked(id, next)
}

// TestSellerLeaveKeepsIndexes: a seller that leaves its session keeps
// that session's next request index, as the last one left, and those of
// the keptRequestIndexes sessions it selected last in all, the one left
// longest ago dropped first; a Select of another then keeps one fewer
// (the one selected among them), and one of the session left goes on at
// its index. A shopper keeps none.
func TestSellerLeaveKeepsIndexes(t *testing.T) {
	const epoch = 3_000_000
	q, err := queue.New(adv.Seller, queue.Options{})
	require.NoError(t, err)
	p := &phone{role: adv.Seller, queue: q}
	for i := range keptRequestIndexes + 1 {
		selectSession(p, ID{byte(i + 1)}, epoch, uint32(i+1))
	}
	require.NoError(t, p.Leave())
	require.NoError(t, p.Leave(), "done twice")
	require.Nil(t, p.session)
	require.Len(t, p.left, keptRequestIndexes)
	assert.Equal(t, sessionIndex{ID{2}, epoch, 2}, p.left[0], "the one left longest ago dropped")
	assert.Equal(t, sessionIndex{ID{keptRequestIndexes + 1}, epoch, keptRequestIndexes + 1}, p.left[keptRequestIndexes-1], "the one left last")

	selectSession(p, ID{0xff}, epoch, 0)
	assert.Len(t, p.left, keptRequestIndexes-1)
	assert.Equal(t, sessionIndex{ID{3}, epoch, 3}, p.left[0])
	require.NoError(t, p.Leave())
	selectSession(p, ID{keptRequestIndexes + 1}, epoch, 0)
	assert.Equal(t, uint32(keptRequestIndexes+1), p.next, "the index of the session left")

	s := &phone{role: adv.Shopper, queue: q}
	selectSession(s, ID{1}, epoch, 0)
	require.NoError(t, s.Leave())
	assert.Empty(t, s.left)
}

// TestLeaveWithoutSessionClearsScreen: Leave with no session selected
// takes a final request off the screen (a paid one that a seller showed
// after it left, say), and refuses one that is not final, keeping it.
func TestLeaveWithoutSessionClearsScreen(t *testing.T) {
	q, err := queue.New(adv.Seller, queue.Options{})
	require.NoError(t, err)
	p := &phone{role: adv.Seller, queue: q}
	p.payment = &PaymentView{State: StateHeld}
	require.ErrorIs(t, p.Leave(), ErrPaymentUnderWay)
	require.NotNil(t, p.payment)
	p.payment = &PaymentView{State: StateCaptured}
	require.NoError(t, p.Leave())
	assert.Nil(t, p.payment)
}
