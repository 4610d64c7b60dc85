package payflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestRateLimitPause: Select waits the retry time a rate_limited refusal
// gives, at most MaxRateLimitPause, and RateLimitPause when it gives none.
func TestRateLimitPause(t *testing.T) {
	o := PhoneOptions{RateLimitPause: 3 * time.Millisecond, MaxRateLimitPause: 5 * time.Second}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"no retry time", fmt.Errorf("%w: busy", ErrRateLimited), 3 * time.Millisecond},
		{"a retry time", &RateLimitedError{Err: ErrRateLimited, RetryAfter: 2 * time.Second}, 2 * time.Second},
		{"a wrapped retry time", fmt.Errorf("pair: %w", &RateLimitedError{Err: ErrRateLimited, RetryAfter: time.Second}), time.Second},
		{"beyond the bound", &RateLimitedError{Err: ErrRateLimited, RetryAfter: time.Hour}, 5 * time.Second},
		{"a zero retry time", &RateLimitedError{Err: ErrRateLimited}, 3 * time.Millisecond},
		{"a negative retry time", &RateLimitedError{Err: ErrRateLimited, RetryAfter: -time.Second}, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, o.rateLimitPause(tt.err), tt.name)
	}
}

// TestPaymentViewHoldExpiryWire: a view's hold expiry crosses the wire
// under key 19 as integer Unix seconds, and is left out when zero
// (PROTOCOL.md §5.3).
func TestPaymentViewHoldExpiryWire(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	enc, err := wireEnc.Marshal(&PaymentView{State: StateHeld, HoldExpiresAt: at})
	require.NoError(t, err)
	var keys map[uint64]any
	require.NoError(t, wireDecodeReply(enc, &keys))
	assert.Equal(t, uint64(at.Unix()), keys[19])
	var got PaymentView
	require.NoError(t, wireDecodeReply(enc, &got))
	assert.True(t, at.Equal(got.HoldExpiresAt), got.HoldExpiresAt)

	enc, err = wireEnc.Marshal(&PaymentView{State: StateCaptured})
	require.NoError(t, err)
	clear(keys)
	require.NoError(t, wireDecodeReply(enc, &keys))
	assert.NotContains(t, keys, uint64(19))
}

// namingAPI names every EID as a seller's.
type namingAPI struct{ API }

func (namingAPI) Resolve(context.Context, string, *ResolveRequest) (*ResolveResponse, error) {
	return &ResolveResponse{DisplayName: "Corner Shop", Role: uint8(adv.Seller), MerchantID: "corner-shop"}, nil
}

// namingPhone is a shopper phone, logged in, that asks namingAPI and
// reads the clock *now.
func namingPhone(now *time.Time) *phone {
	return &phone{
		role: adv.Shopper, api: namingAPI{},
		opts:  PhoneOptions{Now: func() time.Time { return *now }},
		login: &LoginResponse{Token: "token", ExpiresAt: now.Add(time.Hour)},
		names: make(map[adv.EID]peerName),
	}
}

// testEID is the i-th of 65,536 EIDs.
func testEID(i int) adv.EID { return adv.EID{byte(i), byte(i >> 8), 0xee} }

// resolveNamed resolves testEID(i) with p, which names it.
func resolveNamed(t *testing.T, p *phone, i int) {
	t.Helper()
	r, err := p.resolve(context.Background(), testEID(i))
	require.NoError(t, err)
	require.NotNil(t, r)
}

// TestPhoneDropsExpiredNames: a phone drops the names that expired
// PeerNameTTL or more ago (which Peers no longer shows), at its first
// resolution at least PeerNameTTL after it last looked for them, and
// keeps the others; it does not look for them more often.
func TestPhoneDropsExpiredNames(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	for i := range 100 {
		resolveNamed(t, p, i) // the first looks for expired names
	}
	now = now.Add(2*PeerNameTTL - time.Second) // expired less than PeerNameTTL ago
	resolveNamed(t, p, 100)                    // looks for them, and drops none
	assert.Len(t, p.names, 101)
	now = now.Add(PeerNameTTL - time.Second) // names 0 to 99 expired PeerNameTTL ago and more
	resolveNamed(t, p, 101)
	assert.Len(t, p.names, 102, "not looked for less than PeerNameTTL after the last look")
	now = now.Add(time.Second)
	resolveNamed(t, p, 102)
	assert.ElementsMatch(t, []adv.EID{testEID(100), testEID(101), testEID(102)}, slices.Collect(maps.Keys(p.names)), "the names that expired PeerNameTTL ago or more dropped")
}

// TestPhoneForgetsNamesWhenFull: a phone that keeps maxNames answers, none
// of which expired PeerNameTTL ago, forgets them all at its next
// resolution, and keeps its answer.
func TestPhoneForgetsNamesWhenFull(t *testing.T) {
	require.Equal(t, 4096, maxNames)
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	for i := range maxNames {
		resolveNamed(t, p, i)
	}
	assert.Len(t, p.names, maxNames)
	resolveNamed(t, p, maxNames)
	assert.Equal(t, []adv.EID{testEID(maxNames)}, slices.Collect(maps.Keys(p.names)))
}

// TestPhoneDropsForgottenNames: what a phone keeps of a name it forgot
// (forget) is no answer, and is dropped as the name would be had the
// phone asked when it forgot it, PeerNameTTL after it expired.
func TestPhoneDropsForgottenNames(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	resolveNamed(t, p, 0) // looks for expired names
	now = now.Add(time.Second)
	p.forget(testEID(0))
	assert.Equal(t, peerName{asked: now, seq: 2, forgotten: true}, p.names[testEID(0)])
	_, ok := p.kept(testEID(0))
	assert.False(t, ok, "no answer")
	now = now.Add(PeerNameTTL) // expired, but less than PeerNameTTL ago
	resolveNamed(t, p, 1)      // looks for expired names
	assert.Contains(t, p.names, testEID(0))
	now = now.Add(PeerNameTTL)
	resolveNamed(t, p, 2)
	assert.ElementsMatch(t, []adv.EID{testEID(1), testEID(2)}, slices.Collect(maps.Keys(p.names)), "what is left of the forgotten name dropped")
}

// heldNameAPI names every EID as a seller's, under name as it reads when
// it is asked; it holds its first answer on the EID held until release is
// closed, signalling asked once it has it. It counts the resolutions of
// each EID.
type heldNameAPI struct {
	API
	held           adv.EID
	asked, release chan struct{}

	mu    sync.Mutex
	name  string
	calls map[adv.EID]int
}

func newHeldNameAPI(held adv.EID) *heldNameAPI {
	return &heldNameAPI{held: held, asked: make(chan struct{}), release: make(chan struct{}), name: "Corner Shop", calls: make(map[adv.EID]int)}
}

func (a *heldNameAPI) Resolve(_ context.Context, _ string, req *ResolveRequest) (*ResolveResponse, error) {
	eid := adv.EID(req.EID)
	a.mu.Lock()
	a.calls[eid]++
	n := a.calls[eid]
	r := &ResolveResponse{DisplayName: a.name, Role: uint8(adv.Seller), MerchantID: "corner-shop"}
	a.mu.Unlock()
	if eid == a.held && n == 1 {
		a.asked <- struct{}{}
		<-a.release
	}
	return r, nil
}

// rename has the platform name every EID name from now on.
func (a *heldNameAPI) rename(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.name = name
}

// callsOf returns how many resolutions of eid the platform answered.
func (a *heldNameAPI) callsOf(eid adv.EID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[eid]
}

// TestPhoneKeepsForgetMarkersWhenFull: a phone that keeps maxNames
// answers, none of which expired PeerNameTTL ago, keeps what is left of
// the ones it forgot when it drops the others, so that the answer to a
// resolution sent before it forgot one is not kept when it arrives: the
// call that waited for it asks again. When what is left of forgotten
// answers alone fills maxNames, it drops that too, and keeps no answer to
// a resolution sent before, which it asks again.
func TestPhoneKeepsForgetMarkersWhenFull(t *testing.T) {
	require.Equal(t, 4096, maxNames)
	for _, tt := range []struct {
		name    string
		markers bool // forget the other EIDs rather than resolve them
	}{
		{"names and a forgotten answer", false},
		{"forgotten answers alone", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			p := namingPhone(&now)
			x := testEID(maxNames + 1)
			api := newHeldNameAPI(x)
			p.api = api
			type result struct {
				r   *ResolveResponse
				err error
			}
			slow := make(chan result, 1)
			go func() {
				r, err := p.resolve(context.Background(), x)
				slow <- result{r, err}
			}()
			<-api.asked // the platform named x "Corner Shop"
			api.rename("Corner Shop & Co")
			for i := range maxNames - 1 {
				if tt.markers {
					p.forget(testEID(i))
				} else {
					resolveNamed(t, p, i)
				}
			}
			p.forget(x)
			require.Len(t, p.names, maxNames)
			if tt.markers {
				resolveNamed(t, p, maxNames) // finds maxNames forgotten answers
				assert.Equal(t, []adv.EID{testEID(maxNames)}, slices.Collect(maps.Keys(p.names)), "what is left of forgotten answers dropped")
				assert.Equal(t, 1, api.callsOf(testEID(maxNames)), "a resolution sent after them is kept")
			}
			close(api.release) // the name of before forget arrives
			got := <-slow
			require.NoError(t, got.err)
			require.NotNil(t, got.r)
			assert.Equal(t, "Corner Shop & Co", got.r.DisplayName, "the platform asked again")
			assert.Equal(t, 2, api.callsOf(x))
			n, ok := p.kept(x)
			require.True(t, ok)
			assert.Equal(t, "Corner Shop & Co", n.r.DisplayName)
			r, err := p.resolve(context.Background(), x)
			require.NoError(t, err)
			assert.Equal(t, "Corner Shop & Co", r.DisplayName)
			assert.Equal(t, 2, api.callsOf(x), "the name given since is kept")
		})
	}
}

// ctxBlindAPI names every EID as a seller's whatever its context says:
// at each resolution it runs during first, and from the third on it
// refuses them for the card's rate. It counts the resolutions.
type ctxBlindAPI struct {
	API
	calls  int
	during func(eid adv.EID)
}

func (a *ctxBlindAPI) Resolve(_ context.Context, _ string, req *ResolveRequest) (*ResolveResponse, error) {
	a.calls++
	if a.calls >= 3 {
		return nil, fmt.Errorf("%w: busy", ErrRateLimited)
	}
	if a.during != nil {
		a.during(adv.EID(req.EID))
	}
	return &ResolveResponse{DisplayName: "Corner Shop", Role: uint8(adv.Seller), MerchantID: "corner-shop"}, nil
}

// TestAskStopsWhenCancelled: a phone whose context is done asks the
// platform about an EID no more, although the platform answers: it sends
// no resolution once the context is done, and none again when it forgot
// the EID while the context ended during the resolution.
func TestAskStopsWhenCancelled(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before bool // the context is done before the call
		calls  int
	}{
		{"done before", true, 0},
		{"done during a resolution, the EID forgotten", false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			p := namingPhone(&now)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			api := &ctxBlindAPI{}
			p.api = api
			if tt.before {
				cancel()
			} else {
				api.during = func(eid adv.EID) {
					cancel()
					p.forget(eid)
				}
			}
			r, err := p.resolve(ctx, testEID(0))
			require.ErrorIs(t, err, context.Canceled)
			assert.Nil(t, r)
			assert.Equal(t, tt.calls, api.calls)
			_, ok := p.kept(testEID(0))
			assert.False(t, ok, "no answer kept")
		})
	}
}

// TestSellerDropsRequestIndexesOfEndedEpochs: a seller keeps the next
// request index of the sessions it left, and selecting one of them again
// resumes at its index; a selection whose proof names its EID of the next
// epoch still keeps those of the epoch before, and one of the epoch after
// that drops them, no selection landing in them again, and keeps those of
// the epoch before it, where a session selected again still resumes at its
// index.
func TestSellerDropsRequestIndexesOfEndedEpochs(t *testing.T) {
	const first = 3_000_000
	p := &phone{role: adv.Seller}
	// sel selects session id, whose proof named the EID of epoch, and has
	// requests made at the indexes before next.
	sel := func(id byte, epoch, next uint32) { selectSession(p, ID{id}, epoch, next) }
	sel(1, first, 3)
	sel(2, first, 5)
	sel(1, first, 0)
	assert.Equal(t, uint32(3), p.next, "back in session 1 at its index")
	assert.Equal(t, []sessionIndex{{ID{2}, first, 5}}, p.left)

	sel(3, first+1, 2)
	assert.Equal(t, uint32(2), p.next)
	assert.Equal(t, []sessionIndex{{ID{2}, first, 5}, {ID{1}, first, 3}}, p.left,
		"the indexes of the epoch before kept")
	sel(4, first+2, 1)
	assert.Equal(t, []sessionIndex{{ID{3}, first + 1, 2}}, p.left,
		"the indexes of the epoch two before dropped")
	sel(3, first+1, 0)
	assert.Equal(t, uint32(2), p.next, "back in session 3 at its index")
	assert.Equal(t, []sessionIndex{{ID{4}, first + 2, 1}}, p.left)
}

// TestEpochEnded: a kept request index is forgotten at a proof of an epoch
// more than one after its own, also at the ends of the epochs' range.
func TestEpochEnded(t *testing.T) {
	tests := []struct {
		e, epoch uint32
		want     bool
	}{
		{10, 10, false},
		{10, 11, false},
		{10, 12, true},
		{12, 10, false},
		{0, 0, false},
		{0, 1, false},
		{0, 2, true},
		{math.MaxUint32, math.MaxUint32, false},
		{math.MaxUint32 - 1, math.MaxUint32, false},
		{math.MaxUint32 - 2, math.MaxUint32, true},
		{math.MaxUint32, 0, false},
		{0, math.MaxUint32, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, epochEnded(tt.e, tt.epoch), "key of epoch %d, proof of epoch %d", tt.e, tt.epoch)
	}
}

// TestSellerKeepsRequestIndexesAcrossAnEpochChange: a selection that lands
// in a session of the epoch before the phone's clock still resumes at its
// kept index, and a selection of the epoch after the one of a kept index
// keeps it: the platform takes a proof naming the EID of the epoch before
// or after its own, so the answer to a proof made just before an epoch
// ends may come in the next epoch, after the answer to a proof of that
// epoch made later (another Select at once), or the clock may go back to
// the earlier epoch.
func TestSellerKeepsRequestIndexesAcrossAnEpochChange(t *testing.T) {
	const first = 3_000_000
	tests := []struct {
		name string
		// epochs are the epochs of the three selections' proofs, of
		// sessions 1, 2 and 1 again; answers are those of the phone's
		// clock when the platform answered them.
		epochs, answers [3]uint32
	}{
		{"the proof in the epoch before the answer", [3]uint32{first, first, first}, [3]uint32{first, first, first + 1}},
		{"a selection of the epoch after between", [3]uint32{first, first + 1, first}, [3]uint32{first, first + 1, first + 1}},
		{"the clock set back between", [3]uint32{first, first + 1, first}, [3]uint32{first, first + 1, first}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			p := &phone{role: adv.Seller, opts: PhoneOptions{Now: func() time.Time { return now }}}
			for i, id := range []byte{1, 2, 1} {
				now = adv.EpochStart(tt.answers[i]).Add(time.Second)
				p.mu.Lock()
				p.keepIndexLocked(ID{id}, tt.epochs[i])
				p.session = &SessionView{ID: ID{id}}
				if i < 2 {
					p.moveOnLocked(ID{id}, uint32(3+i))
				}
				p.mu.Unlock()
			}
			assert.Equal(t, uint32(3), p.next, "back in session 1 at its index")
			assert.Equal(t, []sessionIndex{{ID{2}, tt.epochs[1], 4}}, p.left)
		})
	}
}

// TestRefused: only a refusal code that the platform gave, in process or
// in its error body over HTTP, is its verdict that a record it was sent
// took no effect; its failures, a call still in flight, a context that
// ended, rate_limited and a reply whose code comes from its status alone
// (statusOnlyError: a gateway's or a proxy's, maybe) are none.
func TestRefused(t *testing.T) {
	bare := func(code string, status int) error {
		return &statusOnlyError{&Error{Code: code, Message: "HTTP reply without an error body", Status: status}}
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"forbidden", ErrForbidden, true},
		{"a conflict wrapped", fmt.Errorf("%w: refund ID taken", ErrConflict), true},
		{"final_state in an error body", &Error{Code: "final_state", Status: 409}, true},
		{"card_counter_regression in an error body", &Error{Code: "card_counter_regression", Status: 403}, true},
		{"unavailable", ErrUnavailable, false},
		{"internal", ErrInternal, false},
		{"an error of no code", errors.New("connection reset"), false},
		{"in flight", &Error{Code: "idempotency_in_flight", Status: 409}, false},
		{"context ended", context.DeadlineExceeded, false},
		{"rate_limited", fmt.Errorf("%w: too many", ErrRateLimited), false},
		{"rate_limited with a retry time", &RateLimitedError{Err: &Error{Code: "rate_limited", Status: 429}, RetryAfter: time.Second}, false},
		{"a bare 403", bare("forbidden", 403), false},
		{"a bare 404", bare("not_found", 404), false},
		{"a bare 409", bare("invalid", 409), false},
		{"a bare 429 with Retry-After", &RateLimitedError{Err: bare("rate_limited", 429), RetryAfter: time.Second}, false},
		{"a bare 403 wrapped", fmt.Errorf("refund: %w", bare("forbidden", 403)), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, refused(tt.err))
		})
	}
}

// TestSellerPaidKeptByLastSighting: a Seller remembers the last
// keptPaidRequests requests it saw paid by their last sighting: one seen
// paid again is kept over those seen paid once before that.
func TestSellerPaidKeptByLastSighting(t *testing.T) {
	s := &Seller{}
	a := ID{0xaa}
	s.notePaidLocked(a)
	for i := range keptPaidRequests - 1 {
		s.notePaidLocked(ID{1, byte(i), byte(i >> 8)})
	}
	s.notePaidLocked(a) // seen paid again: the last one seen paid
	s.notePaidLocked(ID{2})
	if !s.sawPaidLocked(a) {
		t.Fatalf("request %v, seen paid last but one, is forgotten among the last %d seen paid", a, keptPaidRequests)
	}
}
