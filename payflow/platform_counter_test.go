package payflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// counterOf returns the card counter in the header of the signed record
// msg, of the type of r.
func counterOf(t *testing.T, msg []byte, r record.CardRecord) uint64 {
	t.Helper()
	require.NoError(t, record.Open(msg, r))
	return r.Header().Counter
}

// TestCounterRegressionLogged: a record whose card counter is below the
// one the platform holds for the card, of every kind a card signs and on
// every path that refuses it for that (a login's and a pairing's auth
// proof, a payment request, a consent, one to a request that a later
// check refuses too, a refund request), is refused
// card_counter_regression, and the platform logs one warning for it,
// through PlatformOptions.Logger, naming the card, the record's kind, the
// counter held and the counter given, and nothing else. The records
// accepted before it, of a higher counter, log nothing.
func TestCounterRegressionLogged(t *testing.T) {
	ctx := context.Background()
	// consents signs consents to two requests, the older one to a request
	// that the shopper then declines when decline is set: a record that
	// is refused for the request's state too, the counter coming first.
	consents := func(decline bool) func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
		return func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
			first, _ := s.request(t)
			second, _ := s.request(t)
			older := s.consent(t, first.ID)
			if decline {
				_, err := s.Platform.Decline(ctx, s.shopper.Token, first.ID)
				require.NoError(t, err)
			}
			return s.shopper, older, s.consent(t, second.ID), &record.Consent{}
		}
	}
	approve := func(s *shop, msg []byte) error {
		_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
		return err
	}
	for _, tc := range []struct {
		name, kind string
		// sign signs two records of one card, older first, and returns
		// the card, the two messages and a record of their type.
		sign func(t *testing.T, s *shop) (c *paytest.Card, older, newer []byte, r record.CardRecord)
		send func(s *shop, msg []byte) error
	}{
		{"login", "auth-proof", func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
			older := s.shopper.Proof(record.RoleShopper, nil)
			return s.shopper, older, s.shopper.Proof(record.RoleShopper, nil), &record.AuthProof{}
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg})
			return err
		}},
		{"pairing", "auth-proof", func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
			older := s.shopper.Proof(record.RoleShopper, s.seller.EID())
			return s.shopper, older, s.shopper.Proof(record.RoleShopper, s.seller.EID()), &record.AuthProof{}
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: msg})
			return err
		}},
		{"payment request", "payment-request", func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
			older := s.seller.MustSign(paytest.Request(s.session, "EUR", 100))
			return s.seller, older, s.seller.MustSign(paytest.Request(s.session, "EUR", 200)), &record.PaymentRequest{}
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			return err
		}},
		{"consent", "consent", consents(false), approve},
		{"consent to a declined request", "consent", consents(true), approve},
		{"refund request", "refund-request", func(t *testing.T, s *shop) (*paytest.Card, []byte, []byte, record.CardRecord) {
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			older := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
			newer := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
			return s.seller, older, newer, &record.RefundRequest{}
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &records{}
			s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{Logger: slog.New(logs)}})
			card, older, newer, r := tc.sign(t, s)
			given, held := counterOf(t, older, r), counterOf(t, newer, r)
			require.Less(t, given, held)

			require.NoError(t, tc.send(s, newer))
			require.Empty(t, logs.list, "the records accepted log nothing")

			err := tc.send(s, older)
			require.ErrorIs(t, err, payflow.ErrClone)
			assert.Equal(t, "card_counter_regression", payflow.AsError(err).Code)

			require.Len(t, logs.list, 1, "one warning for the refusal")
			rec := logs.list[0]
			assert.Equal(t, slog.LevelWarn, rec.Level)
			assert.Equal(t, "payflow: record refused: card counter did not increase (a resend of a record already accepted or refused, or a cloned card)", rec.Message)
			attrs := map[string]any{}
			rec.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.Any()
				return true
			})
			assert.Equal(t, map[string]any{"card": card.ID, "record": tc.kind, "held": held, "given": given}, attrs)
		})
	}
}

// TestCounterRegressionLoggedWithRequestID: the warning of a record
// refused card_counter_regression while the handler of NewHandler serves
// it carries the request's ID ("request_id"), the X-Request-ID of its
// reply, so that it can be told which request it was logged for.
func TestCounterRegressionLoggedWithRequestID(t *testing.T) {
	logs := &records{}
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{Logger: slog.New(logs)}})
	h := mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()})
	older := s.shopper.Proof(record.RoleShopper, nil)
	newer := s.shopper.Proof(record.RoleShopper, nil)
	login := func(proof []byte, id string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/login", bytes.NewReader(mustCBOR(t, &payflow.LoginRequest{Proof: proof})))
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set(payflow.RequestIDHeader, id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	require.Equal(t, http.StatusOK, login(newer, "login-newer").Code)
	refused := login(older, "login-older")
	require.Equal(t, http.StatusForbidden, refused.Code)
	require.Equal(t, "login-older", refused.Header().Get(payflow.RequestIDHeader))

	require.Len(t, logs.list, 1, "one warning for the refusal")
	attrs := map[string]any{}
	logs.list[0].Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	assert.Equal(t, "login-older", attrs["request_id"])
	assert.Equal(t, s.shopper.ID, attrs["card"])
}
