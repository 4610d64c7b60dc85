package payflow_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// errRandDown is the error of a random source that cannot be read. It
// wraps a sentinel of another code, as an error of a device that reuses
// payflow's errors might: the call's code must stay unavailable.
var errRandDown = fmt.Errorf("random source down: %w", payflow.ErrForbidden)

// errSignerDown is the error of a receipt key that cannot sign, wrapping a
// sentinel of another code: the call's code must stay internal.
var errSignerDown = fmt.Errorf("receipt key down: %w", payflow.ErrExpired)

// downRand reads crypto/rand, and fails with errRandDown while down is
// set.
type downRand struct{ down atomic.Bool }

func (r *downRand) Read(b []byte) (int, error) {
	if r.down.Load() {
		return 0, errRandDown
	}
	return rand.Read(b)
}

// downSigner is a receipt key that fails with errSignerDown while down is
// set.
type downSigner struct {
	crypto.Signer
	down atomic.Bool
}

func (s *downSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.down.Load() {
		return nil, errSignerDown
	}
	return s.Signer.Sign(r, digest, opts)
}

// TestRandAndSignerDownKeepCause: a call that fails because the
// platform's random source fails (a challenge, a login's token, a
// payer's consent nonce) is ErrUnavailable, and one that fails because
// its receipt key cannot sign (the receipt of an approval captured at
// once) is ErrInternal, each wrapping the failure, which errors.Is finds,
// under the message it had. Over HTTP each is answered as every server
// error: its status and code with the fixed message, the cause only
// logged.
func TestRandAndSignerDownKeepCause(t *testing.T) {
	ctx := context.Background()
	// The sentinel of a server error, its code, its HTTP status and the
	// fixed message of its reply.
	type serverError struct {
		sentinel error
		code     string
		status   int
		message  string
	}
	unavailable := serverError{payflow.ErrUnavailable, "unavailable", http.StatusServiceUnavailable, "temporarily unavailable"}
	internal := serverError{payflow.ErrInternal, "internal", http.StatusInternalServerError, "internal error"}
	for _, tc := range []struct {
		name  string
		want  serverError
		cause error
		text  string
		call  func(t *testing.T, s *shop, api payflow.API, rnd *downRand, key *downSigner) error
	}{
		{"challenge", unavailable, errRandDown, "payflow: unavailable: random source down: payflow: forbidden",
			func(t *testing.T, s *shop, api payflow.API, rnd *downRand, _ *downSigner) error {
				rnd.down.Store(true)
				_, err := api.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
				return err
			}},
		{"login", unavailable, errRandDown, "payflow: unavailable: random source down: payflow: forbidden",
			func(t *testing.T, s *shop, api payflow.API, rnd *downRand, _ *downSigner) error {
				proof := s.shopper.Proof(record.RoleShopper, nil)
				rnd.down.Store(true)
				_, err := api.Login(ctx, &payflow.LoginRequest{Proof: proof})
				return err
			}},
		{"consent nonce", unavailable, errRandDown, "payflow: unavailable: random source down: payflow: forbidden",
			func(t *testing.T, s *shop, api payflow.API, rnd *downRand, _ *downSigner) error {
				v, _ := s.request(t)
				rnd.down.Store(true)
				_, err := api.Payment(ctx, s.shopper.Token, v.ID)
				return err
			}},
		{"receipt", internal, errSignerDown, "payflow: internal error: receipt: record: sign: receipt key down: payflow: expired",
			func(t *testing.T, s *shop, api payflow.API, _ *downRand, key *downSigner) error {
				v, _ := s.request(t)
				consent := s.consent(t, v.ID)
				key.down.Store(true)
				_, err := api.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			rnd, key := &downRand{}, &downSigner{Signer: s.Key}
			p, err := payflow.NewPlatform(payflow.PlatformOptions{
				Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: key, Chain: s.PlatformChain, Now: s.Clock.Now,
				Rand: rnd,
			})
			require.NoError(t, err)

			err = tc.call(t, s, p, rnd, key)
			require.ErrorIs(t, err, tc.want.sentinel)
			assert.ErrorIs(t, err, tc.cause, "the failure kept")
			assert.EqualError(t, err, tc.text)
			assert.Equal(t, tc.want.code, payflow.AsError(err).Code)

			rnd.down.Store(false)
			key.down.Store(false)
			srv := httptest.NewServer(mustHandler(t, p, payflow.HandlerOptions{Logger: discardLogger()}))
			t.Cleanup(srv.Close)
			err = tc.call(t, s, mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1}), rnd, key)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tc.want.code, e.Code)
			assert.Equal(t, tc.want.status, e.Status)
			assert.Equal(t, tc.want.message, e.Message, "a server error's cause is only logged")
		})
	}
}
