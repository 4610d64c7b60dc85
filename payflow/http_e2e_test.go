package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// sqliteFixture is a platform whose ledger and state share one SQLite
// file.
func sqliteFixture(tb testing.TB) *paytest.Fixture {
	tb.Helper()
	return sqliteFixtureIn(tb, tb.TempDir())
}

// sqliteFixtureIn is sqliteFixture with the file in dir.
func sqliteFixtureIn(tb testing.TB, dir string) *paytest.Fixture {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "casimpay.db")
	ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { ls.Close() })
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	return paytest.NewFixture(tb, st, ls, paytest.Options{})
}

// postgresFixture is a platform whose ledger and state share a fresh
// PostgreSQL schema; it skips unless PostgreSQL is configured.
func postgresFixture(tb testing.TB) *paytest.Fixture {
	tb.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(tb)
	ls, err := ledgerpostgres.Open(ctx, dsn, ledgerpostgres.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { ls.Close() })
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	return paytest.NewFixture(tb, st, ls, paytest.Options{})
}

// serve runs a handler of f's platform on loopback and returns its URL.
// The handler keeps its replies in the platform's store, f's database.
func serve(tb testing.TB, f *paytest.Fixture) string {
	tb.Helper()
	srv := httptest.NewServer(mustHandler(tb, f.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func TestHTTPEndToEnd(t *testing.T) {
	for _, db := range []struct {
		name    string
		fixture func(testing.TB) *paytest.Fixture
	}{
		{"sqlite", sqliteFixture},
		{"postgres", postgresFixture},
	} {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			f := db.fixture(t)
			// Two handler processes over one database: the shopper talks
			// to one, the seller to the other.
			urlA, urlB := serve(t, f), serve(t, f)
			w := newPhoneWorld(t, f, nil, false)
			var err error
			w.shopper, err = payflow.NewShopper(w.shopperCard.Card, phoneOptions(f, mustClient(t, urlA, payflow.ClientOptions{})))
			require.NoError(t, err)
			w.seller, err = payflow.NewSeller(w.sellerCard.Card, phoneOptions(f, mustClient(t, urlB, payflow.ClientOptions{})))
			require.NoError(t, err)
			shopperID := w.shopperCard.Enrolment.ICCID

			w.pair(t)
			w.purchase(t)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, shopperID))
			assert.Equal(t, payflow.Balance{Posted: 690}, w.balance(t, phoneMerchant))
			_, err = w.seller.Refund(ctx, 691)
			require.ErrorIs(t, err, payflow.ErrLimit)

			// A refusal of the platform crosses HTTP as its sentinel.
			w.request(t)
			_, err = w.seller.Cancel(ctx)
			require.NoError(t, err)
			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, shopperID))

			// A replayed login proof is refused as in process.
			client := mustClient(t, urlA, payflow.ClientOptions{})
			ch, err := client.Challenge(ctx, &payflow.ChallengeRequest{CardID: shopperID})
			require.NoError(t, err)
			eid, err := w.shopper.EID()
			require.NoError(t, err)
			proof, err := w.shopperCard.Card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: eid[:], PeerEID: make([]byte, record.EIDSize)})
			require.NoError(t, err)
			login, err := client.Login(ctx, &payflow.LoginRequest{Proof: proof})
			require.NoError(t, err)
			_, err = mustClient(t, urlB, payflow.ClientOptions{}).Login(ctx, &payflow.LoginRequest{Proof: proof})
			require.ErrorIs(t, err, payflow.ErrReplay)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok)
			assert.Equal(t, http.StatusConflict, e.Status)

			// A reply stored by one process is replayed by the other.
			sellerEID, err := w.seller.EID()
			require.NoError(t, err)
			body := mustCBOR(t, &payflow.ResolveRequest{EID: sellerEID[:]})
			post := func(url string, body []byte) *http.Response {
				req, err := http.NewRequest(http.MethodPost, url+"/v1/resolve", bytes.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", payflow.ContentType)
				req.Header.Set("Authorization", "Bearer "+login.Token)
				req.Header.Set(payflow.IdempotencyKeyHeader, "e2e-key")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				t.Cleanup(func() { resp.Body.Close() })
				return resp
			}
			first := post(urlA, body)
			require.Equal(t, http.StatusOK, first.StatusCode)
			replayed := post(urlB, body)
			require.Equal(t, http.StatusOK, replayed.StatusCode)
			assert.Equal(t, "true", replayed.Header.Get(payflow.ReplayedHeader))
			a, err := io.ReadAll(first.Body)
			require.NoError(t, err)
			b, err := io.ReadAll(replayed.Body)
			require.NoError(t, err)
			assert.Equal(t, a, b)
			reused := post(urlB, mustCBOR(t, &payflow.ResolveRequest{EID: make([]byte, record.EIDSize)}))
			assert.Equal(t, http.StatusUnprocessableEntity, reused.StatusCode)
		})
	}
}

// TestHTTPResolveShopperOnlyForSellerCards: over HTTP, a shopper card's
// resolution of another shopper card's EID is answered with the reply
// (status and body) of an unknown EID, and a seller card's names the
// shopper.
func TestHTTPResolveShopperOnlyForSellerCards(t *testing.T) {
	s := paytest.NewShop(paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{}), false)
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	t.Cleanup(srv.Close)
	fx := &httpFixture{srv: srv}
	resolve := func(token string, eid []byte) httpRawReply {
		return fx.do(t, http.MethodPost, "/v1/resolve", map[string]string{"Authorization": "Bearer " + token},
			mustCBOR(t, &payflow.ResolveRequest{EID: eid}))
	}

	unknown := resolve(bob.Token, bytes.Repeat([]byte{7}, record.EIDSize))
	require.Equal(t, http.StatusNotFound, unknown.status)
	require.Equal(t, "not_found", unknown.errorCode(t))
	alice := resolve(bob.Token, s.Shopper.EID())
	assert.Equal(t, unknown.status, alice.status)
	assert.Equal(t, unknown.body, alice.body, "the reply of an unknown EID")

	who, err := mustClient(t, srv.URL, payflow.ClientOptions{}).Resolve(context.Background(), s.Seller.Token, &payflow.ResolveRequest{EID: s.Shopper.EID()})
	require.NoError(t, err, "a seller card")
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Alice", Role: uint8(record.RoleShopper)}, who)
}

// lossyProxy runs each request's first attempt through the handler and
// then drops the connection, as a network that loses the reply: the
// platform acted, the phone does not know. Logins, whose replies are never
// stored, lose the reply of each card's first login only, so that the
// phone's second login goes through.
type lossyProxy struct {
	h        http.Handler
	mu       sync.Mutex
	seen     map[string]bool // Idempotency-Keys (for logins: card IDs) whose reply was lost
	replayed int
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(payflow.IdempotencyKeyHeader)
	if r.Method != http.MethodPost || key == "" {
		p.h.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/v1/login" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in payflow.LoginRequest
		var proof record.AuthProof
		if cbor.Unmarshal(body, &in) != nil || record.Open(in.Proof, &proof) != nil {
			panic("lossyProxy: a login that does not decode")
		}
		p.mu.Lock()
		again := p.seen["login "+proof.CardID]
		p.mu.Unlock()
		if again {
			p.h.ServeHTTP(w, r)
			return
		}
		key = "login " + proof.CardID
	}
	p.mu.Lock()
	first := !p.seen[key]
	p.seen[key] = true
	p.mu.Unlock()
	if first {
		p.h.ServeHTTP(httptest.NewRecorder(), r)
		panic(http.ErrAbortHandler)
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	p.mu.Lock()
	if rec.Header().Get(payflow.ReplayedHeader) == "true" {
		p.replayed++
	}
	p.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestHTTPLostRepliesMoveMoneyOnce loses the reply of every POST once: the
// client retries with the same key, gets the stored reply, and the
// purchase is made exactly once.
func TestHTTPLostRepliesMoveMoneyOnce(t *testing.T) {
	f := sqliteFixture(t)
	proxy := &lossyProxy{h: mustHandler(t, f.Platform, payflow.HandlerOptions{Logger: discardLogger()}), seen: make(map[string]bool)}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	client := mustClient(t, srv.URL, payflow.ClientOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	w := newPhoneWorld(t, f, client, false)
	w.pair(t)
	w.purchase(t)
	rr, err := w.seller.Refund(context.Background(), 90)
	require.NoError(t, err)
	assert.Equal(t, uint64(90), rr.Amount)

	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, payflow.Balance{Posted: 600}, w.balance(t, phoneMerchant))
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	// Every POST lost its first reply. Per phone: the login's resend was
	// refused as spent, and the phone logged in again; its three
	// challenges, whose replies are never stored, ran again and gave new
	// nonces; a resolution and a pairing were answered from the store;
	// then the request, the consent and the refund were too.
	assert.Len(t, proxy.seen, 15)
	assert.Equal(t, 7, proxy.replayed)
}

// heldUpdate is a Store that holds the first UpdatePayment made after
// arm until release is closed, once entered is closed.
type heldUpdate struct {
	payflow.Store

	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (s *heldUpdate) arm() (entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	return s.entered, s.release
}

func (s *heldUpdate) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	s.mu.Lock()
	entered, release := s.entered, s.release
	s.entered, s.release = nil, nil
	s.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// TestHTTPKeysInFlightOutliveThePlatformsSweep: in front of a platform
// whose clock runs an hour ahead of time.Now, a handler stamps the leases
// of its keys no earlier than by the platform's clock, by which
// Platform.ExpireDue deletes the expired ones, whether it is given no
// clock or one of its own that runs behind the platform's: a key in flight
// is kept through the sweep, and a retry with it is 409
// idempotency_in_flight rather than a second run of the call.
func TestHTTPKeysInFlightOutliveThePlatformsSweep(t *testing.T) {
	for name, now := range map[string]func() time.Time{"no clock": nil, "a clock behind": time.Now} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := &heldUpdate{Store: memory.New()}
			f := paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{})
			f.Clock.Advance(time.Hour)
			s := paytest.NewShop(f, false)
			v, err := s.Create(paytest.Request(s.Session, "EUR", 100))
			require.NoError(t, err)
			srv := httptest.NewServer(mustHandler(t, f.Platform, payflow.HandlerOptions{Logger: discardLogger(), Now: now}))
			t.Cleanup(srv.Close)
			fx := &httpFixture{srv: srv}
			cancel := func() httpRawReply {
				return fx.do(t, http.MethodPost, "/v1/requests/"+v.ID.String()+"/cancel",
					map[string]string{"Authorization": "Bearer " + s.Seller.Token, payflow.IdempotencyKeyHeader: "k1"}, nil)
			}

			entered, release := st.arm()
			first := make(chan httpRawReply, 1)
			go func() { first <- cancel() }()
			<-entered
			_, err = f.Platform.ExpireDue(ctx, 0)
			require.NoError(t, err)
			again := cancel()
			close(release)
			require.Equal(t, http.StatusConflict, again.status)
			assert.Equal(t, "idempotency_in_flight", again.errorCode(t))
			done := <-first
			require.Equal(t, http.StatusOK, done.status)
			replayed := cancel()
			assert.Equal(t, "true", replayed.header.Get(payflow.ReplayedHeader))
			assert.Equal(t, done.body, replayed.body)
		})
	}
}

// failingFinish is a Store whose FinishIdempotent fails, as a database
// that went away would, the first fails times.
type failingFinish struct {
	payflow.Store
	fails atomic.Int32
}

var errDatabaseGone = errors.New("database gone")

func (s *failingFinish) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if s.fails.Add(-1) >= 0 {
		return errDatabaseGone
	}
	return s.Store.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

// consentOverHTTP is a shop on st with a request of 100 EUR, served by a
// handler of its platform; approve posts the payer's consent to it under
// one Idempotency-Key, and paidOnce checks that the shopper paid the
// merchant once.
func consentOverHTTP(t *testing.T, st payflow.Store) (s *paytest.Shop, approve func() httpRawReply, paidOnce func()) {
	s = paytest.NewShop(paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{}), false)
	before := s.Balances("EUR")
	v, err := s.Create(paytest.Request(s.Session, "EUR", 100))
	require.NoError(t, err)
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	t.Cleanup(srv.Close)
	fx := &httpFixture{srv: srv}
	body := mustCBOR(t, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
	approve = func() httpRawReply {
		return fx.do(t, http.MethodPost, "/v1/requests/"+v.ID.String()+"/consent",
			map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
	}
	paidOnce = func() {
		after := s.Balances("EUR")
		assert.Equal(t, before[0].Posted-100, after[0].Posted, "the shopper paid once")
		assert.Equal(t, before[1].Posted+100, after[1].Posted, "the merchant was paid once")
	}
	return s, approve, paidOnce
}

// TestHTTPReplyThatCouldNotBeStored: a consent whose reply the handler
// failed to store once is stored at the second try, and a retry of it gets
// that reply. The shopper pays once.
func TestHTTPReplyThatCouldNotBeStored(t *testing.T) {
	st := &failingFinish{Store: memory.New()}
	_, approve, paidOnce := consentOverHTTP(t, st)

	st.fails.Store(1)
	first := approve()
	require.Equal(t, http.StatusOK, first.status)
	again := approve()
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
	assert.Equal(t, first.body, again.body)
	paidOnce()
}

// downFinish is a Store whose FinishIdempotent fails while down is set,
// as a database that went away would, and that sends on stored once for
// each reply that it stores.
type downFinish struct {
	payflow.Store
	down   atomic.Bool
	stored chan struct{}
}

func (s *downFinish) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if s.down.Load() {
		return errDatabaseGone
	}
	err := s.Store.FinishIdempotent(ctx, key, lease, status, reply, expires)
	if err == nil {
		s.stored <- struct{}{}
	}
	return err
}

// TestHTTPReplyStoredOnceTheDatabaseIsBack: a consent whose reply could
// not be stored, at the second try either, leaves its key in flight, and a
// retry gets 409 idempotency_in_flight, not a second run, which the
// platform would answer from what the first run wrote rather than with
// the first run's reply. The handler keeps trying to
// store the reply, and once the database is back a retry made after the
// lease, also after the platform's sweep, gets that reply rather than a
// second run. The shopper pays once.
func TestHTTPReplyStoredOnceTheDatabaseIsBack(t *testing.T) {
	ctx := context.Background()
	st := &downFinish{Store: memory.New(), stored: make(chan struct{}, 1)}
	s, approve, paidOnce := consentOverHTTP(t, st)

	st.down.Store(true)
	first := approve()
	require.Equal(t, http.StatusOK, first.status)
	again := approve()
	require.Equal(t, http.StatusConflict, again.status)
	assert.Equal(t, "idempotency_in_flight", again.errorCode(t))

	st.down.Store(false)
	select {
	case <-st.stored:
	case <-time.After(20 * time.Second): // a watchdog: the store is retried within seconds
		t.Fatal("the reply was never stored once the database was back")
	}
	s.Clock.Advance(payflow.DefaultReplyLease + time.Second)
	_, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	again = approve()
	require.Equal(t, http.StatusOK, again.status, "after the lease: %x", again.body)
	assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
	assert.Equal(t, first.body, again.body)
	paidOnce()
}

// logSignal is a log's writer that closes hit once a record holding want
// is written.
type logSignal struct {
	want []byte
	hit  chan struct{}
	once sync.Once
}

func (l *logSignal) Write(p []byte) (int, error) {
	if bytes.Contains(p, l.want) {
		l.once.Do(func() { close(l.hit) })
	}
	return len(p), nil
}

// panickyFinish is a ReplyStore whose FinishIdempotent fails twice, as a
// database that went away would, and then closes tried and panics.
type panickyFinish struct {
	*payflow.ReplyMemory
	calls atomic.Int32
	tried chan struct{}
}

func (s *panickyFinish) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if s.calls.Add(1) <= 2 {
		return errDatabaseGone
	}
	close(s.tried)
	panic("reply store broken")
}

// TestHTTPReplyStorePanicsLater: a reply store that panics as the handler
// tries again to store a reply, once the request has been answered, takes
// down neither the handler nor its process: the panic is logged, and the
// handler goes on serving.
func TestHTTPReplyStorePanicsLater(t *testing.T) {
	rs := &panickyFinish{ReplyMemory: payflow.NewReplyMemory(), tried: make(chan struct{})}
	logged := &logSignal{want: []byte("reply store broken"), hit: make(chan struct{})}
	fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: rs, Logger: slog.New(slog.NewJSONHandler(logged, nil))}, payflow.ClientOptions{})
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	first := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
	require.Equal(t, http.StatusOK, first.status)
	<-rs.tried
	<-logged.hit
	again := fx.do(t, http.MethodPost, "/v1/requests", nil, body)
	assert.Equal(t, http.StatusOK, again.status)
}

// hangingFinish is a ReplyStore whose FinishIdempotent fails twice, as a
// database that went away would, and then sends on entered and waits for
// its context to end, failing with its error; calls counts the calls and
// returned the calls that returned.
type hangingFinish struct {
	*payflow.ReplyMemory
	calls, returned atomic.Int32
	entered         chan struct{}
}

func (s *hangingFinish) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	defer s.returned.Add(1)
	if s.calls.Add(1) <= 2 {
		return errDatabaseGone
	}
	s.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestHTTPHandlerCloseStopsReplyRetries: Close of the handler ends its
// tries to store a reply that it failed to store, ending the store's call
// under way, and returns once they have ended: no call to the store is
// left running, and none is made after Close, also by a request served
// after it, whose reply is not tried again.
func TestHTTPHandlerCloseStopsReplyRetries(t *testing.T) {
	rs := &hangingFinish{ReplyMemory: payflow.NewReplyMemory(), entered: make(chan struct{}, 1)}
	logs := &syncBuffer{}
	h, err := payflow.NewHandler(newHTTPFakeAPI(), payflow.HandlerOptions{Replies: rs, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	fx := &httpFixture{srv: srv}
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	first := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
	require.Equal(t, http.StatusOK, first.status)
	<-rs.entered // the third try, made later, waits for its context

	require.NoError(t, h.Close())
	assert.Equal(t, int32(3), rs.calls.Load(), "calls to FinishIdempotent")
	assert.Equal(t, int32(3), rs.returned.Load(), "calls to FinishIdempotent that returned")
	assert.Contains(t, logs.String(), "the handler is closed")

	rs.calls.Store(0)
	rs.returned.Store(0)
	again := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k2"}, body)
	require.Equal(t, http.StatusOK, again.status)
	require.NoError(t, h.Close())
	assert.Equal(t, int32(2), rs.calls.Load(), "calls to FinishIdempotent after Close: the request's two")
	assert.Equal(t, int32(2), rs.returned.Load())
}
