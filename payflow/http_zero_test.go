package payflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestZeroClientRefusesEveryCall: every method of a Client not made by
// NewClient, a zero one or a nil *Client, fails with an error matching
// ErrInvalid alone, given a request it would send (was: a nil
// dereference).
func TestZeroClientRefusesEveryCall(t *testing.T) {
	ctx := context.Background()
	id := payflow.ID{1}
	calls := map[string]func(c *payflow.Client) error{
		"Challenge": func(c *payflow.Client) error {
			_, err := c.Challenge(ctx, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
			return err
		},
		"Login": func(c *payflow.Client) error {
			_, err := c.Login(ctx, &payflow.LoginRequest{Proof: []byte{0xd2}})
			return err
		},
		"Resolve": func(c *payflow.Client) error {
			_, err := c.Resolve(ctx, "tok", &payflow.ResolveRequest{EID: make([]byte, 16)})
			return err
		},
		"Pair": func(c *payflow.Client) error {
			_, err := c.Pair(ctx, &payflow.PairRequest{Proof: []byte{0xd2}})
			return err
		},
		"Session": func(c *payflow.Client) error {
			_, err := c.Session(ctx, "tok", id)
			return err
		},
		"Catalog": func(c *payflow.Client) error {
			_, err := c.Catalog(ctx, "tok", "m1")
			return err
		},
		"CreateRequest": func(c *payflow.Client) error {
			_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte{0xd2}})
			return err
		},
		"Payment": func(c *payflow.Client) error {
			_, err := c.Payment(ctx, "tok", id)
			return err
		},
		"Approve": func(c *payflow.Client) error {
			_, err := c.Approve(ctx, &payflow.ApproveRequest{Consent: []byte{0xd2}})
			return err
		},
		"Decline": func(c *payflow.Client) error {
			_, err := c.Decline(ctx, "tok", id)
			return err
		},
		"Cancel": func(c *payflow.Client) error {
			_, err := c.Cancel(ctx, "tok", id)
			return err
		},
		"Capture": func(c *payflow.Client) error {
			_, err := c.Capture(ctx, "tok", &payflow.CaptureRequest{RequestID: id})
			return err
		},
		"Refund": func(c *payflow.Client) error {
			_, err := c.Refund(ctx, &payflow.RefundRequest{Refund: []byte{0xd2}})
			return err
		},
		"Info": func(c *payflow.Client) error {
			_, err := c.Info(ctx)
			return err
		},
	}
	for clientName, c := range map[string]*payflow.Client{"zero": {}, "nil": nil} {
		for name, call := range calls {
			t.Run(clientName+"/"+name, func(t *testing.T) {
				err := call(c)
				requireOnlySentinel(t, err, payflow.ErrInvalid)
				assert.EqualError(t, err, "payflow: invalid request: a Client is made by NewClient")
			})
		}
	}
}

// TestZeroHandler: a Handler not made by NewHandler, a zero one or a nil
// *Handler, answers every request 500 internal with the error body of
// PROTOCOL.md §5.4 and an X-Request-ID as every reply has, the request's
// own when it gives one well formed once, one made otherwise (none, a
// malformed one, or the header twice), which the default logger's record
// of the request carries, and its Close fails with an error matching
// ErrInvalid (was: a nil dereference in both).
func TestZeroHandler(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	for name, h := range map[string]*payflow.Handler{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				r    *http.Request
				ids  []string // the X-Request-ID values sent
				kept string   // the one echoed, "" for one made
			}{
				{httptest.NewRequest(http.MethodGet, "/v1/info", nil), nil, ""},
				{httptest.NewRequest(http.MethodGet, "/v1/info", nil), []string{" zero-1 "}, "zero-1"},
				{httptest.NewRequest(http.MethodGet, "/v1/info", nil), []string{"bad id!"}, ""},
				{httptest.NewRequest(http.MethodGet, "/v1/info", nil), []string{"first-1", "second-2"}, ""},
				{httptest.NewRequest(http.MethodPost, "/v1/challenges", bytes.NewReader([]byte{0xa1, 0x01, 0x61, 'c'})), nil, ""},
			} {
				if tc.ids != nil {
					tc.r.Header[http.CanonicalHeaderKey(payflow.RequestIDHeader)] = tc.ids
				}
				logs.Reset()
				w := httptest.NewRecorder()
				require.NotPanics(t, func() { h.ServeHTTP(w, tc.r) })
				assert.Equal(t, http.StatusInternalServerError, w.Code)
				assert.Equal(t, payflow.ContentType, w.Header().Get("Content-Type"))
				var e payflow.Error
				require.NoError(t, cbor.Unmarshal(w.Body.Bytes(), &e))
				assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, e)
				id := w.Header().Get(payflow.RequestIDHeader)
				if tc.kept != "" {
					assert.Equal(t, tc.kept, id, "%q", tc.ids)
				} else {
					assert.Regexp(t, `^[0-9a-f]{24}$`, id, "%q", tc.ids)
				}
				var record map[string]any
				require.NoError(t, json.Unmarshal(logs.Bytes(), &record))
				assert.Equal(t, id, record["request_id"])
			}
			err := h.Close()
			requireOnlySentinel(t, err, payflow.ErrInvalid)
			assert.EqualError(t, err, "payflow: invalid request: a Handler is made by NewHandler")
		})
	}
}
