package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestConsentForAnotherVersionSpent: a consent naming another hash than
// the request's is ErrMismatch and spent: sent again it is ErrReplay;
// the request stays pending, nothing moved.
func TestConsentForAnotherVersionSpent(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	c := paytest.Consent(pv)
	c.RequestHash = bytes.Repeat([]byte{7}, len(c.RequestHash))
	msg := s.shopper.MustSign(c)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	assert.ErrorIs(t, err, payflow.ErrReplay, "sent again, its nonce spent")
	s.requireState(t, v.ID, payflow.StatePending)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// copySettlesFirst is a Store whose next acceptance of a payment's change,
// once armed, loses its compare-and-set to a write of another process
// that leaves the payment as it was, and then, before the call reads the
// payment again, has copy run (a copy of the call, settled in full).
type copySettlesFirst struct {
	payflow.Store
	armed bool
	copy  func()
}

func (s *copySettlesFirst) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if !s.armed || a.Update == nil {
		return s.Store.Accept(ctx, a)
	}
	s.armed = false
	other, err := s.Store.Payment(ctx, a.Update.ID)
	if err != nil {
		return err
	}
	if err := s.Store.UpdatePayment(ctx, other, other.State); err != nil {
		return err
	}
	err = s.Store.Accept(ctx, a)
	s.copy()
	return err
}

// TestConsentSettledByCopyAfterLostCompareAndSet: a consent whose
// acceptance loses its compare-and-set, and whose copy sent at the same
// moment is accepted and settled before the request is read again, gets
// the settled view, as the copy did; the money moved once.
func TestConsentSettledByCopyAfterLostCompareAndSet(t *testing.T) {
	ctx := context.Background()
	st := &copySettlesFirst{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	msg := s.consent(t, v.ID)
	var first *payflow.PaymentView
	st.copy = func() {
		var err error
		first, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
		require.NoError(t, err)
	}
	st.armed = true
	got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	require.NoError(t, err)
	require.NotNil(t, first, "the copy ran")
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, first.Receipt, got.Receipt)
	assert.Equal(t, basketPaid, s.balances(t))
}

// apiOnly is the platform as an API alone, without its record checks: a
// handler over it calls Approve with no request read before.
type apiOnly struct{ payflow.API }

// TestHTTPConsentToNoRequestUncheckedNotStored: through a handler whose API
// checks no record before the call, a consent to a request that does not
// exist is not_found, refused before its signature was verified, and its
// reply is not stored under its Idempotency-Key.
func TestHTTPConsentToNoRequestUncheckedNotStored(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	replies := payflow.NewReplyMemory()
	srv := httptest.NewServer(mustHandler(t, apiOnly{s.Platform}, payflow.HandlerOptions{
		Logger: discardLogger(), Now: s.Clock.Now, Replies: replies,
	}))
	t.Cleanup(srv.Close)
	unknown := payflow.ID{5}
	msg := s.shopper.MustSign(&record.Consent{RequestID: unknown[:], RequestHash: bytes.Repeat([]byte{1}, 32),
		Nonce: bytes.Repeat([]byte{2}, 32), Amount: 1, Currency: "EUR", MerchantID: merchantID})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/requests/"+unknown.String()+"/consent",
		bytes.NewReader(mustCBOR(t, &payflow.ApproveRequest{Consent: msg})))
	require.NoError(t, err)
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, "key-1")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Zero(t, replies.DeleteExpired(s.Clock.Now().Add(payflow.DefaultReplyTTL+time.Hour)), "no reply stored")
}

// TestConsentSentAgainAfterHoldExpired: the consent that settled a payment
// whose hold then expired (the request expired by ExpireDue), sent again,
// gets the request's expired view, not ErrReplay; nothing moves.
func TestConsentSentAgainAfterHoldExpired(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	msg := s.consent(t, v.ID)
	h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	s.Clock.Advance(h.HoldExpiresAt.Sub(s.Clock.Now()))
	s.RefreshCRLs()
	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	s.requireState(t, v.ID, payflow.StateExpired)
	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, again.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}
