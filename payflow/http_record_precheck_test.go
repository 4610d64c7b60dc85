package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// writeCountingReplies is a ReplyReader that counts the calls that may
// write (BeginIdempotent, FinishIdempotent, AbandonIdempotent) and the
// lookups, which only read.
type writeCountingReplies struct {
	m       payflow.ReplyReader
	mu      sync.Mutex
	writes  int
	lookups int
}

func (s *writeCountingReplies) count(n *int) {
	s.mu.Lock()
	*n++
	s.mu.Unlock()
}

func (s *writeCountingReplies) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *writeCountingReplies) lookedUp() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

func (s *writeCountingReplies) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	s.count(&s.writes)
	return s.m.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

func (s *writeCountingReplies) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	s.count(&s.writes)
	return s.m.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

func (s *writeCountingReplies) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	s.count(&s.writes)
	return s.m.AbandonIdempotent(ctx, key, lease)
}

func (s *writeCountingReplies) LookupIdempotent(ctx context.Context, key string, bodyHash []byte, now time.Time) (*payflow.IdempotentReply, error) {
	s.count(&s.lookups)
	return s.m.LookupIdempotent(ctx, key, bodyHash, now)
}

// TestHTTPForgedRecordWritesNoReply: a card-signed record whose card and
// signature do not verify, sent to each POST that takes one under an
// Idempotency-Key, gets the refusal it gets without a key and makes no
// call to the reply store that may write (no key claimed, none
// released), however many keys a caller makes up (PROTOCOL.md §5.5); a
// genuine record is stored once and replayed, also once its card is
// revoked, and a forged record under its key is answered by the key's
// entry. The replies are kept in a ReplyMemory, and in the platform's
// SQLite store.
func TestHTTPForgedRecordWritesNoReply(t *testing.T) {
	for _, name := range []string{"memory", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			w, _ := newReplyFixture(t)
			var store payflow.ReplyReader = payflow.NewReplyMemory()
			if name == "sqlite" {
				var ok bool
				store, ok = w.f.Platform.Store().(payflow.ReplyReader)
				require.True(t, ok, "the SQLite store is a ReplyReader")
			}
			replies := &writeCountingReplies{m: store}
			w.serve(t, replies)
			forgedRecordWritesNoReply(t, w, replies)
		})
	}
}

// forgedRecordWritesNoReply is TestHTTPForgedRecordWritesNoReply in w,
// served with replies.
func forgedRecordWritesNoReply(t *testing.T, w *replyWorld, replies *writeCountingReplies) {
	card, revoked := w.f.NewCard("alice"), w.f.NewCard("bob")
	w.f.Revoke(revoked)
	shop, view := w.pending(t)
	request := func() *record.PaymentRequest {
		return &record.PaymentRequest{RequestID: bytes.Repeat([]byte{1}, 16), SessionID: bytes.Repeat([]byte{2}, 16),
			PayerCardID: card.ID, MerchantID: "m1", Currency: "EUR", Amount: 1}
	}
	taken := request()
	taken.RequestID = view.ID[:]
	refund := func() *record.RefundRequest {
		return &record.RefundRequest{RefundID: bytes.Repeat([]byte{3}, 16), RequestID: view.ID[:], Amount: 1, Currency: "EUR"}
	}
	unknownID := payflow.ID{5}
	consentTo := "/v1/requests/" + view.ID.String() + "/consent"
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"pairing proof that does not open", "/v1/pair", &payflow.PairRequest{Proof: []byte("junk")}, http.StatusBadRequest, "invalid"},
		{"pairing proof, not the card's signature", "/v1/pair",
			&payflow.PairRequest{Proof: strangerSigns(t, card.ID, &record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper,
				EID: card.EID(), PeerEID: shop.Seller.EID()})}, http.StatusBadRequest, "bad_signature"},
		{"pairing proof of a revoked card", "/v1/pair",
			&payflow.PairRequest{Proof: revoked.MustSign(&record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper,
				EID: revoked.EID(), PeerEID: shop.Seller.EID()})}, http.StatusForbidden, "card_not_trusted"},
		{"payment request of a card not enrolled", "/v1/requests",
			&payflow.CreateRequest{Request: strangerSigns(t, "8944100000000000000", request())}, http.StatusBadRequest, "bad_signature"},
		{"payment request, not the card's signature", "/v1/requests",
			&payflow.CreateRequest{Request: strangerSigns(t, card.ID, request())}, http.StatusBadRequest, "bad_signature"},
		{"payment request of a revoked card", "/v1/requests",
			&payflow.CreateRequest{Request: revoked.MustSign(request())}, http.StatusForbidden, "card_not_trusted"},
		{"payment request under a taken ID, not the card's signature", "/v1/requests",
			&payflow.CreateRequest{Request: strangerSigns(t, card.ID, taken)}, http.StatusConflict, "conflict"},
		{"consent, not the payer's signature", consentTo,
			&payflow.ApproveRequest{Consent: strangerSigns(t, shop.Shopper.ID, paytest.Consent(view))}, http.StatusBadRequest, "bad_signature"},
		{"consent of a revoked card", consentTo,
			&payflow.ApproveRequest{Consent: revoked.MustSign(paytest.Consent(view))}, http.StatusForbidden, "card_not_trusted"},
		{"consent to no request", "/v1/requests/" + unknownID.String() + "/consent",
			&payflow.ApproveRequest{Consent: strangerSigns(t, card.ID, &record.Consent{RequestID: unknownID[:], RequestHash: bytes.Repeat([]byte{1}, 32),
				Nonce: bytes.Repeat([]byte{2}, 32), Amount: 1, Currency: "EUR", MerchantID: "m1"})}, http.StatusNotFound, "not_found"},
		{"refund, not the card's signature", "/v1/refunds",
			&payflow.RefundRequest{Refund: strangerSigns(t, shop.Seller.ID, refund())}, http.StatusBadRequest, "bad_signature"},
		{"refund of a revoked card", "/v1/refunds",
			&payflow.RefundRequest{Refund: revoked.MustSign(refund())}, http.StatusForbidden, "card_not_trusted"},
	} {
		for range 3 {
			status, code := w.post(t, tc.path, "", tc.body)
			assert.Equal(t, tc.status, status, tc.name)
			assert.Equal(t, tc.code, code, tc.name)
		}
		assert.Zero(t, replies.written(), "%s: no write to the reply store", tc.name)
	}

	// A genuine consent: stored once, then replayed, also once the
	// payer's card is revoked; a forged consent under its key gets the
	// key's entry (another body: 422).
	consent := &payflow.ApproveRequest{Consent: shop.Shopper.MustSign(paytest.Consent(view))}
	status, code := w.postKey(t, consentTo, "", "genuine", consent)
	require.Equal(t, http.StatusOK, status, code)
	assert.Equal(t, 2, replies.written(), "the key claimed, then its reply stored")
	for _, what := range []string{"replayed", "replayed once the card is revoked"} {
		if what != "replayed" {
			w.f.Revoke(shop.Shopper)
		}
		status, code, replayed := w.send(t, consentTo, "", "genuine", payflow.ContentType, consent)
		assert.Equal(t, http.StatusOK, status, what)
		assert.Empty(t, code, what)
		assert.Equal(t, "true", replayed, what)
	}
	forged := &payflow.ApproveRequest{Consent: strangerSigns(t, shop.Shopper.ID, paytest.Consent(view))}
	status, code = w.postKey(t, consentTo, "", "genuine", forged)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "idempotency_key_reused", code)
	after, err := w.f.Platform.Payment(context.Background(), shop.Seller.Token, view.ID)
	require.NoError(t, err)
	assert.NotEqual(t, payflow.StatePending, after.State, "the consent settled once")
}

// replyStoreOnly is a ReplyStore that is no ReplyReader, counting the
// calls that may write.
type replyStoreOnly struct{ c *writeCountingReplies }

func (s replyStoreOnly) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	return s.c.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

func (s replyStoreOnly) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	return s.c.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

func (s replyStoreOnly) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	return s.c.AbandonIdempotent(ctx, key, lease)
}

// TestHTTPForgedRecordWithoutReplyReader: in front of a reply store that
// cannot read a key without claiming it (no ReplyReader), a forged record
// gets the same refusal, its key claimed and released again (PROTOCOL.md
// §5.5), nothing stored.
func TestHTTPForgedRecordWithoutReplyReader(t *testing.T) {
	w, _ := newReplyFixture(t)
	counting := &writeCountingReplies{m: payflow.NewReplyMemory()}
	w.serve(t, replyStoreOnly{counting})
	card := w.f.NewCard("alice")
	forged := &payflow.CreateRequest{Request: strangerSigns(t, card.ID, &record.PaymentRequest{RequestID: bytes.Repeat([]byte{1}, 16),
		SessionID: bytes.Repeat([]byte{2}, 16), PayerCardID: card.ID, MerchantID: "m1", Currency: "EUR", Amount: 1})}
	for range 2 {
		status, code := w.postKey(t, "/v1/requests", "", "same", forged)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "bad_signature", code)
	}
	assert.Equal(t, 4, counting.written(), "the key claimed and released at each request")
	assert.Zero(t, counting.m.(*payflow.ReplyMemory).DeleteExpired(w.f.Clock.Now().Add(payflow.DefaultReplyTTL+time.Hour)), "nothing stored")
}

// TestPlatformCheckRecordNilRequest: a nil request, or one of a call
// that carries no card-signed record, is let through to its call, which
// answers it, the context unchanged.
func TestPlatformCheckRecordNilRequest(t *testing.T) {
	w, _ := newReplyFixture(t)
	ctx := context.Background()
	for _, req := range []any{nil, (*payflow.PairRequest)(nil), (*payflow.CreateRequest)(nil),
		(*payflow.ApproveRequest)(nil), (*payflow.RefundRequest)(nil), &payflow.LoginRequest{}} {
		got, err := w.f.Platform.CheckRecord(ctx, req)
		assert.NoError(t, err, "%T", req)
		assert.Equal(t, ctx, got, "%T", req)
	}
}

// TestHTTPConsentToNoRequestWritesNoReply: a consent that an enrolled
// card signed, to a request that does not exist, is refused 404
// not_found before its signature is verified, as one of any other
// signature is, and under an Idempotency-Key writes nothing to the reply
// store either (PROTOCOL.md §5.5): no key claimed, none released.
func TestHTTPConsentToNoRequestWritesNoReply(t *testing.T) {
	w, _ := newReplyFixture(t)
	replies := &writeCountingReplies{m: payflow.NewReplyMemory()}
	w.serve(t, replies)
	card := w.f.NewCard("alice")
	unknownID := payflow.ID{5}
	consent := &payflow.ApproveRequest{Consent: card.MustSign(&record.Consent{RequestID: unknownID[:], RequestHash: bytes.Repeat([]byte{1}, 32),
		Nonce: bytes.Repeat([]byte{2}, 32), Amount: 1, Currency: "EUR", MerchantID: "m1"})}
	for range 3 {
		status, code := w.post(t, "/v1/requests/"+unknownID.String()+"/consent", "", consent)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, "not_found", code)
	}
	assert.Zero(t, replies.written(), "no write to the reply store")
}

// storeReads is a store that counts its reads of payment requests and of
// tokens.
type storeReads struct {
	payflow.Store
	mu               sync.Mutex
	payments, tokens int
}

func (s *storeReads) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	s.mu.Lock()
	s.payments++
	s.mu.Unlock()
	return s.Store.Payment(ctx, id)
}

func (s *storeReads) Token(ctx context.Context, hash []byte) (*payflow.TokenRecord, error) {
	s.mu.Lock()
	s.tokens++
	s.mu.Unlock()
	return s.Store.Token(ctx, hash)
}

// reads returns the reads of payment requests and of tokens so far.
func (s *storeReads) reads() (payments, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payments, s.tokens
}

// TestCheckedConsentReadsItsRequestOnce: a consent that CheckRecord took
// (as the handler does under an Idempotency-Key) is approved with the
// request that the check read, not read again: the two together read the
// store as often as Approve alone does, and settle the same.
func TestCheckedConsentReadsItsRequestOnce(t *testing.T) {
	ctx := context.Background()
	approve := func(checked bool) (int, *payflow.PaymentView) {
		st := &storeReads{Store: memory.New()}
		s := newShopOn(t, st, false, paytest.Options{})
		v, _ := s.request(t)
		req := &payflow.ApproveRequest{Consent: s.consent(t, v.ID)}
		before, _ := st.reads()
		callCtx := ctx
		if checked {
			var err error
			callCtx, err = s.Platform.CheckRecord(ctx, req)
			require.NoError(t, err)
		}
		done, err := s.Platform.Approve(callCtx, req)
		require.NoError(t, err)
		after, _ := st.reads()
		return after - before, done
	}
	alone, plain := approve(false)
	both, checked := approve(true)
	assert.Equal(t, alone, both, "reads of the request")
	assert.Equal(t, payflow.StateCaptured, plain.State)
	assert.Equal(t, payflow.StateCaptured, checked.State)
}
