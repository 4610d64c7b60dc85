package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
	"github.com/casimpay/casimpay/ledger/memory"
)

func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Config{
		NewStore:   func(t *testing.T) ledger.Store { return memory.New() },
		ModelSteps: 40,
	})
}

// TestHistoryOfMissingTransfer checks that a balance history row naming a
// transfer that does not exist makes AccountBalances fail with
// ledger.ErrCorrupt instead of matching the filter against nothing.
func TestHistoryOfMissingTransfer(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	acct := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		if err := tx.InsertAccounts([]ledger.Account{acct}); err != nil {
			return err
		}
		return tx.InsertBalances([]ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: acct.ID, Timestamp: 2},
			TransferID: ledger.IDFromUint64(9)}})
	}))
	err := s.View(ctx, func(tx ledger.ReadTx) error {
		_, err := tx.AccountBalances(ledger.AccountFilter{AccountID: acct.ID, TimestampMax: ledger.TimestampLimit, Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		return err
	})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
}
