package demo

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// lostApproveAPI loses the reply of the first consent that the platform
// settles, as a connection that drops after the consent went out.
type lostApproveAPI struct {
	payflow.API
	mu   sync.Mutex
	lost bool
}

func (a *lostApproveAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil && !a.lost {
		a.lost = true
		return nil, payflow.ErrUnavailable
	}
	return v, err
}

// TestAwaitRequestCollectsLostReceipt: when the reply to Alice's consent
// was lost and the cloud settled it, her phone's next AwaitRequest shows
// that payment as a receipt to collect, collects it without the card
// signing again, and then shows the till's next request to approve.
func TestAwaitRequestCollectsLostReceipt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	defer c.Close()
	m := Grocery
	cards, err := m.SetupInMemory(ctx, c)
	require.NoError(t, err)
	var out bytes.Buffer
	pr := NewPrinter(&out)
	root := c.Authority.Root.DER()
	alice, err := NewPhone(m.Party("alice"), cards["alice"], &lostApproveAPI{API: c.Platform}, pr.Screen("shopper"), root)
	require.NoError(t, err)
	till, err := NewPhone(m.Party("till"), cards["till"], c.Platform, pr.Screen("seller"), root)
	require.NoError(t, err)
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{alice.Station, till.Station}, []*Listener{alice.Scanner, till.Scanner}, time.Now()))
	sellers, err := alice.ServiceQueue(ctx)
	require.NoError(t, err)
	shoppers, err := till.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, sellers, 1)
	require.Len(t, shoppers, 1)
	_, err = alice.Confirm(ctx, sellers[0])
	require.NoError(t, err)
	_, err = till.Confirm(ctx, shoppers[0])
	require.NoError(t, err)
	_, err = till.AwaitPaired(ctx)
	require.NoError(t, err)
	_, err = alice.AwaitPaired(ctx)
	require.NoError(t, err)

	first, err := till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	firstScreen, err := alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = alice.Approve(ctx, firstScreen, PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	v, rc, err := till.AwaitSettled(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	second, err := till.Charge(ctx, "Alice", []Item{{"milk", 1}}, nil)
	require.NoError(t, err)

	out.Reset()
	screen, err := alice.AwaitRequest(ctx)
	require.NoError(t, err)
	assert.Equal(t, second.ID, screen.ID, "the request to approve is the till's next one")
	assert.Equal(t, payflow.StatePending, screen.State)
	shown := out.String()
	assert.Contains(t, shown, "[shopper] Receipt to collect: EUR 11.27 paid to Corner Grocer for request "+Short(first.ID))
	assert.Contains(t, shown, "[shopper] Receipt verified offline")
	assert.Contains(t, shown, "[shopper] Payment request from Corner Grocer:")
	left, _, err := cards["alice"].PINTries()
	require.NoError(t, err)
	assert.Equal(t, 3, left, "no PIN entered to collect the receipt")

	got, err := alice.Approve(ctx, screen, PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(119), got.Amount)
	b, err := c.Platform.Balance(ctx, cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127 - 119}, b, "each payment charged once")
	assert.NotNil(t, rc)
}
