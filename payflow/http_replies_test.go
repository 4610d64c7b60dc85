package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// replyWorld is the handler of a platform on SQLite, its replies kept in
// the platform's database or in a ReplyMemory, with a count of the
// replies kept.
type replyWorld struct {
	f      *paytest.Fixture
	srv    *httptest.Server
	stored func(t *testing.T) int // replies kept so far, in flight or finished
	keys   int
}

// newReplyWorlds returns a world whose replies are in the SQLite store
// (counted as the rows of payflow_replies) and one whose replies are in a
// ReplyMemory (counted as the entries that its DeleteExpired has deleted
// after their expiry, so far: each entry is counted once).
func newReplyWorlds(t *testing.T) map[string]func(t *testing.T) *replyWorld {
	return map[string]func(t *testing.T) *replyWorld{
		"sqlite": func(t *testing.T) *replyWorld {
			w, path := newReplyFixture(t)
			_, r, err := sqlitedb.Open(context.Background(), path, sqlitedb.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { r.Close() })
			w.serve(t, nil)
			w.stored = func(t *testing.T) int {
				var n int
				require.NoError(t, r.QueryRow(`SELECT COUNT(*) FROM payflow_replies`).Scan(&n))
				return n
			}
			return w
		},
		"memory": func(t *testing.T) *replyWorld {
			w, _ := newReplyFixture(t)
			m := payflow.NewReplyMemory()
			w.serve(t, m)
			deleted := 0
			w.stored = func(t *testing.T) int {
				deleted += m.DeleteExpired(w.f.Clock.Now().Add(payflow.DefaultReplyTTL + time.Hour))
				return deleted
			}
			return w
		},
	}
}

// newReplyFixture is a platform on a SQLite file (sqliteFixtureIn), and
// that file's path.
func newReplyFixture(t *testing.T) (*replyWorld, string) {
	dir := t.TempDir()
	return &replyWorld{f: sqliteFixtureIn(t, dir)}, filepath.Join(dir, "casimpay.db")
}

// serve runs the handler of the world's platform, its replies in
// replies (nil: the platform's store).
func (w *replyWorld) serve(t *testing.T, replies payflow.ReplyStore) {
	opts := payflow.HandlerOptions{Logger: discardLogger(), Now: w.f.Clock.Now, MaxBodyBytes: 4096}
	if replies != nil {
		opts.Replies = replies
	}
	w.srv = httptest.NewServer(mustHandler(t, w.f.Platform, opts))
	t.Cleanup(w.srv.Close)
}

// post sends a POST of body (CBOR of v, or v itself when it is []byte)
// with a fresh Idempotency-Key and the given Authorization header ("" for
// none), and returns the reply's status and error code ("" for a
// success). Every reply must have run: none is replayed.
func (w *replyWorld) post(t *testing.T, path, auth string, v any) (int, string) {
	t.Helper()
	w.keys++
	return w.postKey(t, path, auth, "key-"+strconv.Itoa(w.keys), v)
}

// postKey is post under the Idempotency-Key key.
func (w *replyWorld) postKey(t *testing.T, path, auth, key string, v any) (int, string) {
	t.Helper()
	return w.postTyped(t, path, auth, key, payflow.ContentType, v)
}

// postTyped is postKey with the Content-Type contentType.
func (w *replyWorld) postTyped(t *testing.T, path, auth, key, contentType string, v any) (int, string) {
	t.Helper()
	status, code, replayed := w.send(t, path, auth, key, contentType, v)
	assert.Empty(t, replayed, "%s replayed", path)
	return status, code
}

// send is postTyped that also returns the reply's Idempotent-Replayed
// header ("" for none), and asserts nothing of it.
func (w *replyWorld) send(t *testing.T, path, auth, key, contentType string, v any) (status int, code, replayed string) {
	t.Helper()
	body, ok := v.([]byte)
	if !ok {
		body = mustCBOR(t, v)
	}
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, key)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := w.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	replayed = resp.Header.Get(payflow.ReplayedHeader)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", replayed
	}
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(b, &e))
	return resp.StatusCode, e.Code, replayed
}

// TestHTTPStoresNoReplyOfACallThatWroteNothing: a challenge, which
// writes nothing, is never stored under its Idempotency-Key, whether
// it is given (to an enrolled card or not) or refused (a card ID that is
// no ICCID): the route runs every time, a new nonce each time, and no
// caller fills the reply store with challenges.
func TestHTTPStoresNoReplyOfACallThatWroteNothing(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			card := w.f.NewCard("alice")
			for range 3 {
				status, code := w.post(t, "/v1/challenges", "", &payflow.ChallengeRequest{CardID: "8944100000000000001"})
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Equal(t, "invalid", code)
				for _, id := range []string{"8944100000000000000", card.ID} { // not enrolled, enrolled
					status, code = w.post(t, "/v1/challenges", "", &payflow.ChallengeRequest{CardID: id})
					assert.Equal(t, http.StatusOK, status)
					assert.Empty(t, code)
				}
			}
			for range 2 { // the same key again runs again
				status, code := w.postKey(t, "/v1/challenges", "", "same", &payflow.ChallengeRequest{CardID: card.ID})
				assert.Equal(t, http.StatusOK, status)
				assert.Empty(t, code)
			}
			assert.Zero(t, w.stored(t), "no challenge stored")
		})
	}
}

// TestHTTPStoresNoUnauthorizedReply: a request refused for its bearer
// token (unknown here), which the platform refuses before it writes
// anything, leaves no reply stored, however many tokens and keys a
// caller makes up; a refusal given to a valid token is stored as before.
func TestHTTPStoresNoUnauthorizedReply(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			card := w.f.NewCard("alice")
			card.Login(record.RoleShopper)
			id := payflow.ID{7}.String()
			for i := range 3 {
				junk := "Bearer junk-" + strconv.Itoa(i)
				status, code := w.postKey(t, "/v1/resolve", junk, "same", &payflow.ResolveRequest{EID: make([]byte, record.EIDSize)})
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.Equal(t, "unauthorized", code)
				for _, path := range []string{"/v1/requests/" + id + "/decline", "/v1/requests/" + id + "/cancel"} {
					status, code = w.post(t, path, junk, []byte{})
					assert.Equal(t, http.StatusUnauthorized, status, path)
					assert.Equal(t, "unauthorized", code, path)
				}
				status, code = w.post(t, "/v1/requests/"+id+"/capture", junk, &payflow.CaptureRequest{})
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.Equal(t, "unauthorized", code)
			}
			assert.Zero(t, w.stored(t), "no 401 stored")

			status, code := w.post(t, "/v1/resolve", "Bearer "+card.Token, &payflow.ResolveRequest{EID: make([]byte, record.EIDSize)})
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, "not_found", code)
			assert.Equal(t, 1, w.stored(t), "the refusal given to a valid token")
		})
	}
}

// strangerSigns signs r as card cardID with a key that is not the card's.
func strangerSigns(t *testing.T, cardID string, r record.CardRecord) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signsAs(t, key, cardID, r)
}

// signsAs signs r with key as card cardID, its counter 1.
func signsAs(t *testing.T, key *ecdsa.PrivateKey, cardID string, r record.CardRecord) []byte {
	t.Helper()
	r.Header().CardID, r.Header().Counter = cardID, 1
	msg, err := record.Sign(rand.Reader, key, r)
	require.NoError(t, err)
	return msg
}

// TestHTTPStoresNoReplyOfAnUnverifiedRecord: a card-signed record refused
// before its card and signature are verified (a body the handler cannot
// take, no record, a record that does not open, a card that is not
// enrolled, a signature that is not the card's, a revoked card, a consent
// to no request, and a consent to a pending request from a card that is
// not the payer, signed with another key or revoked), which spends
// nothing, leaves no reply stored, however many keys a caller sends it
// under; a record refused once its signature is verified, which spends
// its counter, is stored as before.
func TestHTTPStoresNoReplyOfAnUnverifiedRecord(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			card, revoked := w.f.NewCard("alice"), w.f.NewCard("bob")
			w.f.Revoke(revoked)
			zeroEID := make([]byte, record.EIDSize)
			request := func() *record.PaymentRequest {
				return &record.PaymentRequest{RequestID: bytes.Repeat([]byte{1}, 16), SessionID: bytes.Repeat([]byte{2}, 16),
					PayerCardID: card.ID, MerchantID: "m1", Currency: "EUR", Amount: 1}
			}
			refund := func() *record.RefundRequest {
				return &record.RefundRequest{RefundID: bytes.Repeat([]byte{3}, 16), RequestID: bytes.Repeat([]byte{4}, 16), Amount: 1, Currency: "EUR"}
			}
			unknownID := payflow.ID{5}
			consent := &record.Consent{RequestID: unknownID[:], RequestHash: bytes.Repeat([]byte{1}, 32),
				Nonce: bytes.Repeat([]byte{2}, 32), Amount: 1, Currency: "EUR", MerchantID: "m1"}
			// A request pending in a shop, and consents to it from cards
			// that are not its payer.
			ctx := context.Background()
			shop := paytest.NewShop(w.f, false)
			created, err := shop.Create(paytest.Request(shop.Session, "EUR", 100))
			require.NoError(t, err)
			require.Equal(t, payflow.StatePending, created.State)
			view, err := w.f.Platform.Payment(ctx, shop.Shopper.Token, created.ID)
			require.NoError(t, err)
			pendingConsent := "/v1/requests/" + created.ID.String() + "/consent"
			for _, tc := range []struct {
				name, path  string
				contentType string
				body        any
				status      int
				code        string
			}{
				{"content type", "/v1/pair", "application/json", &payflow.PairRequest{Proof: []byte{1}}, http.StatusBadRequest, "invalid"},
				{"not CBOR", "/v1/pair", payflow.ContentType, []byte{0xff, 0xff}, http.StatusBadRequest, "invalid"},
				{"too large", "/v1/pair", payflow.ContentType, &payflow.PairRequest{Proof: make([]byte, 5000)}, http.StatusUnprocessableEntity, "over_limit"},
				{"pairing proof empty", "/v1/pair", payflow.ContentType, &payflow.PairRequest{}, http.StatusBadRequest, "invalid"},
				{"payment request empty", "/v1/requests", payflow.ContentType, &payflow.CreateRequest{}, http.StatusBadRequest, "invalid"},
				{"consent empty", "/v1/requests/" + unknownID.String() + "/consent", payflow.ContentType,
					&payflow.ApproveRequest{}, http.StatusBadRequest, "invalid"},
				{"refund empty", "/v1/refunds", payflow.ContentType, &payflow.RefundRequest{}, http.StatusBadRequest, "invalid"},
				{"no record", "/v1/pair", payflow.ContentType, &payflow.PairRequest{Proof: []byte("junk")}, http.StatusBadRequest, "invalid"},
				{"pairing proof naming no peer", "/v1/pair", payflow.ContentType,
					&payflow.PairRequest{Proof: strangerSigns(t, card.ID, &record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper, EID: zeroEID, PeerEID: zeroEID})},
					http.StatusBadRequest, "invalid"},
				{"card not enrolled", "/v1/requests", payflow.ContentType,
					&payflow.CreateRequest{Request: strangerSigns(t, "8944100000000000000", request())}, http.StatusBadRequest, "bad_signature"},
				{"not the card's signature", "/v1/requests", payflow.ContentType,
					&payflow.CreateRequest{Request: strangerSigns(t, card.ID, request())}, http.StatusBadRequest, "bad_signature"},
				{"refund not the card's signature", "/v1/refunds", payflow.ContentType,
					&payflow.RefundRequest{Refund: strangerSigns(t, card.ID, refund())}, http.StatusBadRequest, "bad_signature"},
				{"revoked card", "/v1/refunds", payflow.ContentType,
					&payflow.RefundRequest{Refund: revoked.MustSign(refund())}, http.StatusForbidden, "card_not_trusted"},
				{"consent to no request", "/v1/requests/" + unknownID.String() + "/consent", payflow.ContentType,
					&payflow.ApproveRequest{Consent: strangerSigns(t, card.ID, consent)}, http.StatusNotFound, "not_found"},
				{"consent of a non-payer, not the card's signature", pendingConsent, payflow.ContentType,
					&payflow.ApproveRequest{Consent: strangerSigns(t, card.ID, paytest.Consent(view))}, http.StatusBadRequest, "bad_signature"},
				{"consent of a non-payer, revoked card", pendingConsent, payflow.ContentType,
					&payflow.ApproveRequest{Consent: revoked.MustSign(paytest.Consent(view))}, http.StatusForbidden, "card_not_trusted"},
			} {
				for range 2 {
					status, code := w.postTyped(t, tc.path, "", "key-"+strconv.Itoa(w.keys), tc.contentType, tc.body)
					w.keys++
					assert.Equal(t, tc.status, status, tc.name)
					assert.Equal(t, tc.code, code, tc.name)
				}
			}
			assert.Zero(t, w.stored(t), "no refusal of an unverified record stored")
			after, err := w.f.Platform.Payment(ctx, shop.Shopper.Token, created.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, after.State, "the request consented to by non-payers")

			// The card's own refund of no payment: verified, then refused,
			// its counter spent.
			status, code := w.post(t, "/v1/refunds", "", &payflow.RefundRequest{Refund: card.MustSign(refund())})
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, "not_found", code)
			assert.Equal(t, 1, w.stored(t), "the refusal of a verified record")
		})
	}
}

// TestHTTPStoresVerifiedRecordRefusals: a record whose signature the
// platform verified and then refused is a final reply stored for its
// Idempotency-Key, whether or not the call spent the record's nonce: a
// pairing proof signed by its card over a nonce the platform did not
// issue (nonce_replayed) and a consent signed by an enrolled card that is
// not the payer (forbidden) are each stored once, and the same key and
// body get the stored reply again, replayed, nothing run (PROTOCOL.md
// §5.5).
func TestHTTPStoresVerifiedRecordRefusals(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			ctx := context.Background()
			shop, view := w.pending(t)
			carol := w.f.NewCard("carol")
			proof := carol.MustSign(&record.AuthProof{Nonce: bytes.Repeat([]byte{7}, 32), Role: record.RoleShopper,
				EID: carol.EID(), PeerEID: shop.Seller.EID()})
			consent := carol.MustSign(paytest.Consent(view))
			for i, tc := range []struct {
				name, path string
				body       any
				status     int
				code       string
			}{
				{"pairing proof over a nonce never issued", "/v1/pair", &payflow.PairRequest{Proof: proof}, http.StatusConflict, "nonce_replayed"},
				{"consent of an enrolled card that is not the payer", "/v1/requests/" + view.ID.String() + "/consent",
					&payflow.ApproveRequest{Consent: consent}, http.StatusForbidden, "forbidden"},
			} {
				key := "verified-" + strconv.Itoa(i)
				status, code := w.postKey(t, tc.path, "", key, tc.body)
				assert.Equal(t, tc.status, status, tc.name)
				assert.Equal(t, tc.code, code, tc.name)

				status, code, replayed := w.send(t, tc.path, "", key, payflow.ContentType, tc.body)
				assert.Equal(t, tc.status, status, "%s: replayed", tc.name)
				assert.Equal(t, "true", replayed, "%s: replayed", tc.name)
				assert.Equal(t, tc.code, code, "%s: replayed", tc.name)
				// Counted after the replay: the memory world counts the
				// entries it deletes.
				assert.Equal(t, i+1, w.stored(t), "%s: stored once", tc.name)
			}
			after, err := w.f.Platform.Payment(ctx, shop.Shopper.Token, view.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, after.State, "the request consented to by a card that is not the payer")
		})
	}
}

// TestHTTPStoresNoPathMismatch: a consent or a capture whose body names
// another request than its path is refused 422 mismatch before it reaches
// the API (PROTOCOL.md §5.2), and nothing is stored for its
// Idempotency-Key: the same key and body are refused again, not
// replayed, and the request stays as it was.
func TestHTTPStoresNoPathMismatch(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			ctx := context.Background()
			shop, view := w.pending(t)
			other := payflow.ID{9}
			consent := &payflow.ApproveRequest{Consent: shop.Shopper.MustSign(paytest.Consent(view))}
			for _, tc := range []struct {
				name, path, auth string
				body             any
			}{
				{"consent", "/v1/requests/" + other.String() + "/consent", "", consent},
				{"capture", "/v1/requests/" + view.ID.String() + "/capture", "Bearer " + shop.Seller.Token,
					&payflow.CaptureRequest{RequestID: other}},
			} {
				for range 2 { // postKey asserts that no reply is replayed
					status, code := w.postKey(t, tc.path, tc.auth, "mismatch-"+tc.name, tc.body)
					assert.Equal(t, http.StatusUnprocessableEntity, status, tc.name)
					assert.Equal(t, "mismatch", code, tc.name)
				}
			}
			assert.Zero(t, w.stored(t), "no refusal of a path mismatch stored")
			after, err := w.f.Platform.Payment(ctx, shop.Shopper.Token, view.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, after.State)
		})
	}
}

// pending makes a shop in the world's platform and a pending request in
// its session, and returns the shop and the payer's view of the request.
func (w *replyWorld) pending(t *testing.T) (*paytest.Shop, *payflow.PaymentView) {
	t.Helper()
	shop := paytest.NewShop(w.f, false)
	created, err := shop.Create(paytest.Request(shop.Session, "EUR", 100))
	require.NoError(t, err)
	view, err := w.f.Platform.Payment(context.Background(), shop.Shopper.Token, created.ID)
	require.NoError(t, err)
	return shop, view
}

// TestHTTPRefundRefusedConflictRunsAgain: a refund of a request not
// captured yet is refused 409 conflict, which is not stored under its
// Idempotency-Key and spends no counter (PROTOCOL.md §4.6, §5.5): the
// same key and body run again and get the same refusal, nothing stored;
// once the request is captured, the same key and body make the refund.
func TestHTTPRefundRefusedConflictRunsAgain(t *testing.T) {
	for name, world := range newReplyWorlds(t) {
		t.Run(name, func(t *testing.T) {
			w := world(t)
			ctx := context.Background()
			shop, view := w.pending(t)
			rr := &record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: view.ID[:], Amount: 40, Currency: "EUR"}
			body := &payflow.RefundRequest{Refund: shop.Seller.MustSign(rr)}
			for _, what := range []string{"first", "sent again"} {
				status, code := w.postKey(t, "/v1/refunds", "", "refund", body)
				assert.Equal(t, http.StatusConflict, status, what)
				assert.Equal(t, "conflict", code, what)
				_, err := w.f.Platform.Store().Refund(ctx, payflow.ID(rr.RefundID))
				assert.ErrorIs(t, err, payflow.ErrNotFound, "no refund stored: %s", what)
			}
			assert.Zero(t, w.stored(t), "no conflict stored")

			paid, err := w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: shop.Shopper.MustSign(paytest.Consent(view))})
			require.NoError(t, err)
			require.Equal(t, payflow.StateCaptured, paid.State)
			status, code := w.postKey(t, "/v1/refunds", "", "refund", body)
			assert.Equal(t, http.StatusOK, status)
			assert.Empty(t, code)
			ref, err := w.f.Platform.Store().Refund(ctx, payflow.ID(rr.RefundID))
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundDone, ref.State)
			assert.Equal(t, [2]payflow.Balance{{Posted: paytest.Funds - 60}, {Posted: 60}}, shop.Balances("EUR"))
			assert.Equal(t, 1, w.stored(t), "the refund's reply stored")
		})
	}
}
