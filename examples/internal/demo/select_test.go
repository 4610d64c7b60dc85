package demo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// Phones whose selections of each other keep opening two sessions select
// each other RotationTries times again, hearing each other before each,
// and then give up with ErrTwoSessions.
func TestSelectEachOtherGivesUp(t *testing.T) {
	var out bytes.Buffer
	pr := NewPrinter(&out)
	a, b := &Phone{Screen: pr.Screen("shopper")}, &Phone{Screen: pr.Screen("seller")}
	selections, heard := 0, 0
	err := SelectEachOther(a, b, func() (ca, cb *payflow.Confirmation, err error) {
		selections++
		return &payflow.Confirmation{SessionID: payflow.ID{1}}, &payflow.Confirmation{SessionID: payflow.ID{2}}, nil
	}, func() error {
		heard++
		return nil
	})
	require.ErrorIs(t, err, ErrTwoSessions)
	assert.EqualError(t, err, "demo: the phones' selections of each other open two sessions (sessions 01000000 and 02000000, 4 tries)")
	assert.Equal(t, RotationTries+1, selections)
	assert.Equal(t, RotationTries, heard)
	again := "[shopper] The other screen shows another pairing code: selecting again after the EIDs changed\n" +
		"[seller]  The other screen shows another pairing code: selecting again after the EIDs changed\n"
	assert.Equal(t, strings.Repeat(again, RotationTries), out.String(), "both screens say so before each selection again")
}

// Phones whose selections name one session are done at once: no second
// selection, nothing heard, nothing on the screens; an error of a
// selection, or of hearing each other again, ends it with that error.
func TestSelectEachOtherEnds(t *testing.T) {
	errSelect, errHear := errors.New("select"), errors.New("hear")
	for _, tt := range []struct {
		name       string
		sessions   [2]payflow.ID
		selectErr  error
		hearErr    error
		want       error
		selections int
	}{
		{"one session", [2]payflow.ID{{1}, {1}}, nil, nil, nil, 1},
		{"selection fails", [2]payflow.ID{{1}, {1}}, errSelect, nil, errSelect, 1},
		{"hearing fails", [2]payflow.ID{{1}, {2}}, nil, errHear, errHear, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			pr := NewPrinter(&out)
			a, b := &Phone{Screen: pr.Screen("shopper")}, &Phone{Screen: pr.Screen("seller")}
			selections := 0
			err := SelectEachOther(a, b, func() (ca, cb *payflow.Confirmation, err error) {
				selections++
				return &payflow.Confirmation{SessionID: tt.sessions[0]}, &payflow.Confirmation{SessionID: tt.sessions[1]}, tt.selectErr
			}, func() error { return tt.hearErr })
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Equal(t, tt.selections, selections)
			if tt.hearErr == nil {
				assert.Empty(t, out.String())
			}
		})
	}
}

// pairCallsAPI records, in the list it shares, the name of its phone at
// each Pair call.
type pairCallsAPI struct {
	payflow.API
	name  string
	mu    *sync.Mutex
	calls *[]string
}

func (a *pairCallsAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	a.mu.Lock()
	*a.calls = append(*a.calls, a.name)
	a.mu.Unlock()
	return a.API.Pair(ctx, req)
}

// TestChooseEachOther: two phones that heard each other tap each other's
// entries, and then confirm them, the first phone first: the two
// confirmations name one session. A pick that is not in a phone's queue
// fails before either confirms. The phones' clock stands still, so that
// both select within one EID epoch.
func TestChooseEachOther(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWallClock(t)
	var mu sync.Mutex
	var calls []string
	wrap := func(name string) func(payflow.API) payflow.API {
		return func(api payflow.API) payflow.API { return &pairCallsAPI{API: api, name: name, mu: &mu, calls: &calls} }
	}
	w := newPhones(ctx, t, wrap("alice"), wrap("till"))
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, WallClock()))
	sellers, err := w.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	shoppers, err := w.till.ServiceQueue(ctx)
	require.NoError(t, err)

	_, _, err = ChooseEachOther(ctx, w.alice, sellers, "Corner Grocer", w.till, shoppers, "Bob")
	require.Error(t, err)
	assert.Empty(t, calls, "no confirmation")

	ca, cb, err := ChooseEachOther(ctx, w.till, shoppers, "Alice", w.alice, sellers, "Corner Grocer")
	require.NoError(t, err)
	assert.Equal(t, ca.SessionID, cb.SessionID)
	assert.Equal(t, []string{"till", "alice"}, calls)
}
