package payflow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShowPaidWritesNoViewOnScreen: a Request that finds the request on
// screen paid (withdrawShown, withdrawTaken) has just put the platform's
// view of it on screen (seen) when it shows it paid (showPaid), and a
// call of another goroutine (Status, Wait) may have taken that view from
// the screen meanwhile and read it without the phone's lock: showPaid
// writes nothing into it (under go test -race, a write is a data race).
func TestShowPaidWritesNoViewOnScreen(t *testing.T) {
	onScreen := &PaymentView{
		ID: ID{1}, State: StateCaptured, Amount: 10, Captured: 10, Currency: "EUR",
		MerchantID: "corner-shop", MerchantName: "Corner Shop", PayerCardID: "8900",
		Request: []byte{0xa1}, RequestHash: []byte{0xb2},
	}
	first := cloneView(onScreen)
	first.State, first.Captured = StatePending, 0
	s := &Seller{}
	s.payment, s.last = onScreen, onScreen.ID

	taken := make(chan *PaymentView)
	read := make(chan *PaymentView)
	go func() {
		cur, err := s.currentPayment() // as Status takes it
		if err != nil {
			cur = nil
		}
		taken <- cur
		read <- cloneView(cur) // read without the lock, as Status returns it
	}()
	cur := <-taken
	require.Same(t, onScreen, cur)
	err := s.showPaid(first, onScreen, false, " on screen")
	var paid *PaidError
	require.ErrorAs(t, err, &paid)
	assert.Equal(t, StateCaptured, paid.Payment.State)
	assert.Equal(t, "Corner Shop", (<-read).MerchantName)
}
