package sqlite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

func TestRows(t *testing.T) {
	sqltest.Run(t, func(t *testing.T) ledger.Store {
		s, _ := openTemp(t)
		return s
	}, func(t *testing.T, closed ledger.Store) ledger.Store {
		s, err := Open(context.Background(), closed.(*Store).path, Options{})
		require.NoError(t, err)
		return s
	})
}
