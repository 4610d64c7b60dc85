package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestEmptyTokenIsNoToken: an empty token is refused as no token, with
// ErrUnauthorized, before the platform looks it up: the store reads no
// token for it, as it does for an unknown one.
func TestEmptyTokenIsNoToken(t *testing.T) {
	st := &storeReads{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	_, before := st.reads()
	err := s.Platform.CheckToken(ctx, "")
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.EqualError(t, err, "payflow: unauthorized: no token")
	_, after := st.reads()
	assert.Equal(t, before, after, "no token read")
	err = s.Platform.CheckToken(ctx, "unknown")
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.EqualError(t, err, "payflow: unauthorized: unknown token")
	_, after = st.reads()
	assert.Equal(t, before+1, after, "an unknown token read")
}
