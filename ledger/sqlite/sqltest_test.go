package sqlite

import (
	"testing"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

func TestRows(t *testing.T) {
	sqltest.Run(t, func(t *testing.T) ledger.Store {
		s, _ := openTemp(t)
		return s
	})
}
