package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// tokenCheckedFake is the HTTP fake API made a TokenChecker, whose
// CheckToken counts its calls and fails with err (nil: the token passes).
type tokenCheckedFake struct {
	*httpFakeAPI
	mu     sync.Mutex
	err    error
	checks int
}

var _ payflow.TokenChecker = (*tokenCheckedFake)(nil)

func (a *tokenCheckedFake) CheckToken(context.Context, string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checks++
	return a.err
}

func (a *tokenCheckedFake) refuse(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

func (a *tokenCheckedFake) checked() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checks
}

// newTokenCheckedFixture is newHTTPFixture in front of a tokenCheckedFake,
// its replies in replies (nil: the handler's own).
func newTokenCheckedFixture(t *testing.T, replies payflow.ReplyStore, copts payflow.ClientOptions) (*httpFixture, *tokenCheckedFake) {
	t.Helper()
	api := &tokenCheckedFake{httpFakeAPI: newHTTPFakeAPI()}
	return newHTTPFixtureOf(t, api.httpFakeAPI, api, payflow.HandlerOptions{Replies: replies}, copts), api
}

// keyedDecline sends fx a decline of request ID{3} with the token "tok"
// under the Idempotency-Key "k1".
func keyedDecline(t *testing.T, fx *httpFixture) httpRawReply {
	t.Helper()
	header := map[string]string{"Authorization": "Bearer tok", payflow.IdempotencyKeyHeader: "k1"}
	return fx.do(t, http.MethodPost, "/v1/requests/"+payflow.ID{3}.String()+"/decline", header, nil)
}

// TestProtocolHTTPReplayTokenCheckFailure pins PROTOCOL.md §5.5, step 4:
// a stored reply of a POST that takes a token is replayed only once the
// token passes the endpoints' check, and a failure of the platform in
// that check is answered as the endpoint answers it (503 unavailable, 500
// internal, their fixed messages), without Idempotent-Replayed; nothing
// runs, and the entry stays as it was, replayed once the check passes.
func TestProtocolHTTPReplayTokenCheckFailure(t *testing.T) {
	fx, api := newTokenCheckedFixture(t, nil, payflow.ClientOptions{})
	first := keyedDecline(t, fx)
	require.Equal(t, http.StatusOK, first.status)

	for _, tc := range []struct {
		err    error
		status int
		want   payflow.Error
	}{
		{payflow.ErrUnavailable, http.StatusServiceUnavailable, payflow.Error{Code: "unavailable", Message: "temporarily unavailable"}},
		{errors.New("card store down"), http.StatusInternalServerError, payflow.Error{Code: "internal", Message: "internal error"}},
	} {
		api.refuse(tc.err)
		r := keyedDecline(t, fx)
		assert.Equal(t, tc.status, r.status, tc.err)
		assert.Equal(t, tc.want, r.errorBody(t), tc.err)
		assert.Empty(t, r.header.Get(payflow.ReplayedHeader), tc.err)
	}
	api.refuse(nil)
	r := keyedDecline(t, fx)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader), "the entry stays as it was")
	assert.Equal(t, first.body, r.body)
	assert.Equal(t, 1, fx.api.count("Decline"), "nothing runs")
	assert.Equal(t, 3, api.checked(), "each replay checks the token")
}

// TestProtocolHTTPInvalidStoredStatusBeforeTheToken pins PROTOCOL.md
// §5.5, step 4: a stored reply of a status that the handler never stores
// is answered 500 internal with no detail before the token is looked at,
// on an endpoint that takes one: a token that the check would refuse
// changes nothing, and the check is not made.
func TestProtocolHTTPInvalidStoredStatusBeforeTheToken(t *testing.T) {
	replies := &storedReplies{ReplyMemory: payflow.NewReplyMemory(), reply: payflow.IdempotentReply{Status: http.StatusNoContent, Reply: []byte("stored")}}
	fx, api := newTokenCheckedFixture(t, replies, payflow.ClientOptions{})
	api.refuse(payflow.ErrUnauthorized)
	r := keyedDecline(t, fx)
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, r.errorBody(t))
	assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
	assert.Empty(t, r.header.Get("WWW-Authenticate"), "no refusal of the token")
	assert.Zero(t, api.checked(), "the token is not looked at")
	assert.Zero(t, fx.api.count("Decline"), "nothing runs")
}

// contendedReplies is a ReplyStore whose BeginIdempotent fails as a
// shared store does for a key released again and again while it claims
// it (payflow.ErrKeyContended), counting its calls.
type contendedReplies struct {
	*payflow.ReplyMemory
	calls atomic.Int32
}

func (s *contendedReplies) BeginIdempotent(context.Context, string, []byte, time.Time, time.Time) (*payflow.IdempotentReply, error) {
	s.calls.Add(1)
	return nil, payflow.ErrKeyContended
}

// TestProtocolHTTPKeyContended pins PROTOCOL.md §5.5, step 5: a key that
// the store finds gone again and again while it claims it
// (payflow.ErrKeyContended) is answered 503 unavailable, nothing run,
// whatever the token (the entry is looked up before the token is
// checked), and payflow.Client retries it.
func TestProtocolHTTPKeyContended(t *testing.T) {
	replies := &contendedReplies{ReplyMemory: payflow.NewReplyMemory()}
	fx, api := newTokenCheckedFixture(t, replies, payflow.ClientOptions{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	api.refuse(payflow.ErrUnauthorized)
	r := keyedDecline(t, fx)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, payflow.Error{Code: "unavailable", Message: "temporarily unavailable"}, r.errorBody(t))
	assert.Zero(t, api.checked(), "answered whatever the token")
	assert.Equal(t, int32(1), replies.calls.Load())

	api.refuse(nil)
	_, err := fx.client.Decline(context.Background(), "tok", payflow.ID{3})
	requireOnlySentinel(t, err, payflow.ErrUnavailable)
	assert.Equal(t, int32(1+3), replies.calls.Load(), "the client sends it again, up to MaxAttempts")
	assert.Zero(t, fx.api.count("Decline"), "nothing runs")
}

// TestProtocolHTTPRetryTimeOfTheBodyBeforeTheHeader pins PROTOCOL.md
// §5.4: the retry time of a rate_limited error is key 3 of its error
// body, else its Retry-After header: a body's key 3 is taken over a
// header that says otherwise, and a header is taken when the body has no
// key 3.
func TestProtocolHTTPRetryTimeOfTheBodyBeforeTheHeader(t *testing.T) {
	for name, tc := range map[string]struct {
		body map[int]any
		want time.Duration
	}{
		"key 3 and a header":  {map[int]any{1: "rate_limited", 2: "slow down", 3: uint64(5)}, 5 * time.Second},
		"a header, no key 3":  {map[int]any{1: "rate_limited", 2: "slow down"}, 9 * time.Second},
		"a header, key 3 = 0": {map[int]any{1: "rate_limited", 2: "slow down", 3: uint64(0)}, 9 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := callCBORErrorReplyWith(t, http.StatusTooManyRequests, http.Header{"Retry-After": {"9"}}, tc.body)
			requireOnlySentinel(t, err, payflow.ErrRateLimited)
			rl, ok := errors.AsType[*payflow.RateLimitedError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tc.want, rl.RetryAfter)
			assert.Equal(t, "slow down", payflow.AsError(err).Message)
		})
	}
}

// TestProtocolHTTPResentRecordOfARevokedCardIsNotStored pins PROTOCOL.md
// §5.5: a payment request or a refund of the same bytes as one accepted
// before passes the check before the key is claimed whatever its card's
// state, and its call, which checks the card as a new record's, refuses
// it card_not_trusted once the card is revoked: a refusal given before
// the signature is verified, not stored for its new key, so that the
// same key and body run again; the key it was accepted under still
// replays its reply.
func TestProtocolHTTPResentRecordOfARevokedCardIsNotStored(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		for _, kind := range []string{"request", "refund"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				ctx := context.Background()
				w := world(t)
				shop, view := w.pending(t)
				path, body := "/v1/requests", any(&payflow.CreateRequest{Request: shop.Seller.MustSign(paytest.Request(shop.Session, "EUR", 100))})
				if kind == "refund" {
					paid, err := w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: shop.Shopper.MustSign(paytest.Consent(view))})
					require.NoError(t, err)
					require.Equal(t, payflow.StateCaptured, paid.State)
					rr := &record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: view.ID[:], Amount: 40, Currency: "EUR"}
					path, body = "/v1/refunds", &payflow.RefundRequest{Refund: shop.Seller.MustSign(rr)}
				}
				status, code := w.postKey(t, path, "", "accepted", body)
				require.Equal(t, http.StatusOK, status, code)

				w.f.Revoke(shop.Seller)
				for range 2 {
					status, code := w.postKey(t, path, "", "resent", body)
					assert.Equal(t, http.StatusForbidden, status)
					assert.Equal(t, "card_not_trusted", code)
				}
				status, _, replayed := w.send(t, path, "", "accepted", payflow.ContentType, body)
				assert.Equal(t, http.StatusOK, status)
				assert.Equal(t, "true", replayed)
				assert.Equal(t, 1, w.stored(t), "the accepted record's reply alone, the refusal not stored")
			})
		}
	}
}

// firstLeaseDown is a Store whose FinishIdempotent fails, as a database
// out would, for the lease of the first reply it is given to store while
// down is set, and stores every other.
type firstLeaseDown struct {
	payflow.Store
	down  atomic.Bool
	mu    sync.Mutex
	first time.Time
}

func (s *firstLeaseDown) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = lease
	}
	first := s.first.Equal(lease)
	s.mu.Unlock()
	if first && s.down.Load() {
		return errDatabaseGone
	}
	return s.Store.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

// TestProtocolHTTPReplyNotStoredByTheLeasesEnd pins PROTOCOL.md §5.5: a
// consent whose reply could not be stored for the whole lease of its key
// is in flight until the lease ends (409 idempotency_in_flight); a retry
// after it runs the call again, which answers what the first run wrote,
// the request's view as a read shows it then (captured), no money moved
// again; that reply is stored for the key and replayed to the next retry.
func TestProtocolHTTPReplyNotStoredByTheLeasesEnd(t *testing.T) {
	ctx := context.Background()
	st := &firstLeaseDown{Store: memory.New()}
	st.down.Store(true)
	s, approve, paidOnce := consentOverHTTP(t, st)

	first := approve()
	require.Equal(t, http.StatusOK, first.status)
	again := approve()
	assert.Equal(t, http.StatusConflict, again.status)
	assert.Equal(t, "idempotency_in_flight", again.errorCode(t))

	s.Clock.Advance(payflow.DefaultReplyLease + time.Second)
	rerun := approve()
	require.Equal(t, http.StatusOK, rerun.status, "%x", rerun.body)
	assert.Empty(t, rerun.header.Get(payflow.ReplayedHeader), "the call ran again")
	var view payflow.PaymentView
	require.NoError(t, cbor.Unmarshal(rerun.body, &view))
	assert.Equal(t, payflow.StateCaptured, view.State)
	assert.NotEmpty(t, view.Receipt, "captured with the receipt stored")
	read, err := s.Platform.Payment(ctx, s.Shopper.Token, view.ID)
	require.NoError(t, err)
	assert.Equal(t, read.State, view.State, "the view as a read shows it")
	assert.Equal(t, read.Receipt, view.Receipt)
	paidOnce()

	st.down.Store(false) // the first reply's later tries find the key taken over, and end
	replayed := approve()
	assert.Equal(t, http.StatusOK, replayed.status)
	assert.Equal(t, "true", replayed.header.Get(payflow.ReplayedHeader))
	assert.Equal(t, rerun.body, replayed.body, "the second run's reply is stored")
	paidOnce()
}

// TestProtocolHTTPRefusedRecordReadsTheTableOnce pins PROTOCOL.md §5.5: a
// card-signed record that the platform refuses before its card and
// signature are verified, under an Idempotency-Key, reads the key's entry
// once, without claiming it, and writes nothing to the table, whether the
// key has no live entry (the record's own refusal) or one (the entry's
// answer); a record that passes reads nothing first and claims the key.
func TestProtocolHTTPRefusedRecordReadsTheTableOnce(t *testing.T) {
	w, _ := newReplyFixture(t)
	replies := &writeCountingReplies{m: payflow.NewReplyMemory()}
	w.serve(t, replies)
	shop := paytest.NewShop(w.f, false)
	forged := &payflow.CreateRequest{Request: strangerSigns(t, shop.Seller.ID, paytest.Request(shop.Session, "EUR", 100))}

	status, code := w.postKey(t, "/v1/requests", "", "k1", forged)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "bad_signature", code)
	assert.Equal(t, 1, replies.lookedUp(), "the key's entry read once")
	assert.Zero(t, replies.written(), "nothing written")

	status, code = w.postKey(t, "/v1/requests", "", "k2", &payflow.CreateRequest{Request: shop.Seller.MustSign(paytest.Request(shop.Session, "EUR", 100))})
	require.Equal(t, http.StatusOK, status, code)
	assert.Equal(t, 1, replies.lookedUp(), "a record that passes reads nothing first")
	assert.Equal(t, 2, replies.written(), "the key claimed, then its reply stored")

	status, code = w.postKey(t, "/v1/requests", "", "k2", forged)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "idempotency_key_reused", code)
	assert.Equal(t, 2, replies.lookedUp(), "the key's entry read once")
	assert.Equal(t, 2, replies.written(), "nothing written")
}
