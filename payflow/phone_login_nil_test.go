package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestLoginWithRetryRefusesNilArguments: LoginWithRetry given no API (nil,
// or a nil *Client) or no proof function fails with ErrInvalid, having the
// card sign no proof and sending nothing (was: a nil dereference).
func TestLoginWithRetryRefusesNilArguments(t *testing.T) {
	ctx := context.Background()
	proofs := 0
	proof := func() ([]byte, error) { proofs++; return []byte{0xa0}, nil }
	for name, api := range map[string]payflow.API{"nil": nil, "nil *Client": (*payflow.Client)(nil)} {
		t.Run(name, func(t *testing.T) {
			l, err := payflow.LoginWithRetry(ctx, api, 3, proof)
			require.ErrorIs(t, err, payflow.ErrInvalid)
			assert.Nil(t, l)
			assert.Zero(t, proofs, "no proof signed")
		})
	}
	t.Run("nil proof", func(t *testing.T) {
		api := &lgFixedLoginAPI{}
		l, err := payflow.LoginWithRetry(ctx, api, 3, nil)
		require.ErrorIs(t, err, payflow.ErrInvalid)
		assert.Nil(t, l)
	})
}
