package ledger_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// fullPageTx reads, as the first page of balance history rows, BatchMax
// rows of account, the last at timestamp MaxUint64, then an error, or no
// row when failing is nil; it records where each read starts.
type fullPageTx struct {
	ledger.ReadTx
	account ledger.ID
	failing error
	reads   *[]rowsRead
}

// rowsRead is where a read of balance history rows starts.
type rowsRead struct {
	account ledger.ID
	from    uint64
}

func (tx fullPageTx) BalanceRows(account ledger.ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	*tx.reads = append(*tx.reads, rowsRead{account, from})
	if len(*tx.reads) > 1 {
		return nil, tx.failing
	}
	rows := make([]ledger.BalanceRow, limit)
	for i := range rows {
		rows[i].AccountID = tx.account
		rows[i].Timestamp = math.MaxUint64 - uint64(limit-1-i)
	}
	return rows, nil
}

// TestVerifyReadsBalanceRowsPastTheLastTimestamp checks where Verify
// reads the balance history rows that follow a full page ending at
// timestamp MaxUint64: from the next account ID, carried into the high
// 64 bits, and not past IDMax.
func TestVerifyReadsBalanceRowsPastTheLastTimestamp(t *testing.T) {
	first := uint64(math.MaxUint64 - (ledger.BatchMax - 1))
	tests := []struct {
		account ledger.ID
		next    []rowsRead
		want    ledger.Problem
	}{
		{ledger.IDFromUint64(99), []rowsRead{{ledger.IDFromUint64(100), 0}},
			ledger.Problem{AccountID: ledger.IDFromUint64(99), Detail: fmt.Sprintf("balance history row at %d, but the account does not exist", first)}},
		{ledger.IDFromUint64s(7, math.MaxUint64), []rowsRead{{ledger.IDFromUint64s(8, 0), 0}},
			ledger.Problem{AccountID: ledger.IDFromUint64s(7, math.MaxUint64), Detail: fmt.Sprintf("balance history row at %d, but the account does not exist", first)}},
		{ledger.IDMax, nil,
			ledger.Problem{AccountID: ledger.IDMax, Detail: fmt.Sprintf("balance history row at %d, but the account has reserved ID %v", first, ledger.IDMax)}},
	}
	for _, tt := range tests {
		t.Run(tt.account.String(), func(t *testing.T) {
			_, s := verifySetup(t)
			var reads []rowsRead
			full := func(tx ledger.ReadTx) ledger.ReadTx { return fullPageTx{tx, tt.account, nil, &reads} }
			got := verifyProblems(t, altered{s, full})
			assert.Equal(t, []ledger.Problem{tt.want, {Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", lastTimestamp(t, s), uint64(math.MaxUint64))}}, got)
			assert.Equal(t, append([]rowsRead{{}}, tt.next...), reads)
		})
	}
}

// lastTimestamp returns the last timestamp s records.
func lastTimestamp(t *testing.T, s ledger.Store) uint64 {
	t.Helper()
	var last uint64
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		var err error
		last, err = tx.LastTimestamp()
		return err
	}))
	return last
}

// secondPageFailsTx fails the second read of balance history rows, or
// every read of an account's transfers when transfers is set.
type secondPageFailsTx struct {
	ledger.ReadTx
	transfers bool
	reads     *int
}

func (tx secondPageFailsTx) BalanceRows(account ledger.ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	if *tx.reads++; *tx.reads == 2 {
		return nil, errLostConnection
	}
	return tx.ReadTx.BalanceRows(account, from, limit)
}

func (tx secondPageFailsTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	if tx.transfers {
		return nil, errLostConnection
	}
	return tx.ReadTx.AccountTransfers(f)
}

// TestVerifyReturnsTheStoresErrorReadingHistory checks that Verify
// returns the store's error when a read of balance history rows past the
// first page fails, whether the rows are of a missing account, of one
// without AccountHistory or of one with it, or when a read of the
// transfers of an account with AccountHistory fails.
func TestVerifyReturnsTheStoresErrorReadingHistory(t *testing.T) {
	tests := []struct {
		name  string
		store func(t *testing.T) ledger.Store
	}{
		{"missing_account", func(t *testing.T) ledger.Store {
			_, s := verifySetup(t)
			return altered{s, func(tx ledger.ReadTx) ledger.ReadTx {
				return fullPageTx{tx, ledger.IDFromUint64(99), errLostConnection, new([]rowsRead)}
			}}
		}},
		{"account_without_history", func(t *testing.T) ledger.Store {
			_, s := verifySetup(t)
			return altered{s, func(tx ledger.ReadTx) ledger.ReadTx {
				return fullPageTx{tx, ledger.IDFromUint64(1), errLostConnection, new([]rowsRead)}
			}}
		}},
		{"account_with_history", func(t *testing.T) ledger.Store {
			return altered{longHistory(t), func(tx ledger.ReadTx) ledger.ReadTx { return secondPageFailsTx{tx, false, new(int)} }}
		}},
		{"transfers", func(t *testing.T) ledger.Store {
			return altered{longHistory(t), func(tx ledger.ReadTx) ledger.ReadTx { return secondPageFailsTx{tx, true, new(int)} }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ledger.New(tt.store(t), ledger.Options{})
			require.NoError(t, err)
			defer l.Close()
			err = l.Verify(context.Background())
			assert.ErrorIs(t, err, errLostConnection)
			assert.NotErrorIs(t, err, ledger.ErrCorrupt)
		})
	}
}

// TestVerifyFindsReleaseAtTheTimestampOfAnAccount checks that Verify
// finds the release of an expired hold at the timestamp of an account,
// another event.
func TestVerifyFindsReleaseAtTheTimestampOfAnAccount(t *testing.T) {
	one, two, thirty := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(30)
	s, at := historySetup(t)
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{{ID: thirty, Ledger: 978, Code: 1, Timestamp: at["sweep"]}})
	})
	detail := fmt.Sprintf("balance history row at %d releases %v at the timestamp of account %v",
		at["sweep"], ledger.IDFromUint64(11), thirty)
	require.Equal(t, []ledger.Problem{{AccountID: one, Detail: detail}, {AccountID: two, Detail: detail}}, verifyProblems(t, s))
}

// TestVerifyLeavesAmountAboveLimitOutOfBalanceHistory checks that Verify
// replays the balance history of an account without a transfer of more
// than AmountLimit, which it reports with the transfer: its rows keep the
// balances before it.
func TestVerifyLeavesAmountAboveLimitOutOfBalanceHistory(t *testing.T) {
	s, _ := historySetup(t)
	big := transfer(30, ledger.AmountLimit+1)
	big.Timestamp = 1 << 62
	tamper(t, s, func(tx ledger.Tx) error {
		accounts, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		if err != nil {
			return err
		}
		if err := tx.InsertBalances(rowsAt(accounts, big.ID, big.Timestamp)); err != nil {
			return err
		}
		return tx.InsertTransfers([]ledger.Transfer{big})
	})
	assert.Equal(t, []ledger.Problem{{TransferID: big.ID, Detail: fmt.Sprintf("amount %d above the limit", big.Amount)}},
		verifyProblems(t, s))
}

// TestVerifyReplaysPostOfAnotherAccountsHold checks that Verify replays
// the balance history of an account that a post names but its pending
// transfer does not, which it reports, without releasing that hold from
// the account's pending balances.
func TestVerifyReplaysPostOfAnotherAccountsHold(t *testing.T) {
	s, _ := historySetup(t)
	three, four := ledger.IDFromUint64(3), ledger.IDFromUint64(4)
	hold := ledger.Transfer{ID: ledger.IDFromUint64(40), DebitAccountID: three, CreditAccountID: four, Amount: 2,
		Ledger: 978, Code: 1, Flags: ledger.TransferPending, Timestamp: 1 << 62}
	post := transfer(41, 2)
	post.Flags, post.PendingID, post.Timestamp = ledger.TransferPostPendingTransfer, hold.ID, 1<<62+1
	tamper(t, s, func(tx ledger.Tx) error {
		if err := tx.InsertAccounts([]ledger.Account{{ID: four, Ledger: 978, Code: 1, Timestamp: 1<<62 - 1}}); err != nil {
			return err
		}
		if err := tx.InsertTransfers([]ledger.Transfer{hold, post}); err != nil {
			return err
		}
		if err := tx.InsertPending([]ledger.Pending{{ID: hold.ID, Status: ledger.PendingPosted, Timestamp: hold.Timestamp}}); err != nil {
			return err
		}
		accounts, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		if err != nil {
			return err
		}
		accounts[0].DebitsPosted += 2
		accounts[1].CreditsPosted += 2
		if err := tx.InsertBalances(rowsAt(accounts, post.ID, post.Timestamp)); err != nil {
			return err
		}
		return tx.UpdateAccounts(accounts)
	})
	assert.Equal(t, []ledger.Problem{{TransferID: post.ID, Detail: fmt.Sprintf("has other accounts than its pending transfer %v", hold.ID)}},
		verifyProblems(t, s))
}

// rowsAt returns the balance history rows of accounts, with their
// balances, at ts, naming transfer id.
func rowsAt(accounts []ledger.Account, id ledger.ID, ts uint64) []ledger.BalanceRow {
	var rows []ledger.BalanceRow
	for _, a := range accounts {
		rows = append(rows, ledger.BalanceRow{TransferID: id, AccountBalance: ledger.AccountBalance{AccountID: a.ID,
			DebitsPending: a.DebitsPending, DebitsPosted: a.DebitsPosted, CreditsPending: a.CreditsPending,
			CreditsPosted: a.CreditsPosted, Timestamp: ts}})
	}
	return rows
}

// TestVerifyFindsReleaseNamingAHoldReleasedBefore checks that Verify
// finds a release row that names a hold an earlier row released (11, by
// the sweep), where the release of another (12) gives its balances.
func TestVerifyFindsReleaseNamingAHoldReleasedBefore(t *testing.T) {
	s, at := historySetup(t)
	eleven, twelve := ledger.IDFromUint64(11), ledger.IDFromUint64(12)
	named := editRows(s, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
		for i := range rows {
			if rows[i].Timestamp == at["void"] {
				rows[i].TransferID = eleven
			}
		}
		return rows
	})
	detail := fmt.Sprintf("balance history row at %d releases %v, but names transfer %v", at["void"], twelve, eleven)
	assert.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(1), Detail: detail}, {AccountID: ledger.IDFromUint64(2), Detail: detail}},
		verifyProblems(t, named))
}

// limitPageTx reads, as the transfers of account 2 and as its balance
// history rows, a full page (BatchMax) of transfers of zero from 1 to 2,
// the last at TimestampLimit, each with its row; it records the least
// timestamp of each read of transfers, and fails any read of them past
// the first.
type limitPageTx struct {
	ledger.ReadTx
	reads *[]uint64
	trs   []ledger.Transfer
	rows  []ledger.BalanceRow
}

// limitPage returns the transfers of a limitPageTx and their rows.
func limitPage() ([]ledger.Transfer, []ledger.BalanceRow) {
	trs := make([]ledger.Transfer, ledger.BatchMax)
	rows := make([]ledger.BalanceRow, ledger.BatchMax)
	for i := range trs {
		trs[i] = transfer(100+uint64(i), 0)
		trs[i].Timestamp = ledger.TimestampLimit - uint64(ledger.BatchMax-1-i)
		rows[i] = creditsRow(trs[i].Timestamp, 0, 100+uint64(i))
	}
	return trs, rows
}

func (tx limitPageTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	if *tx.reads = append(*tx.reads, f.TimestampMin); len(*tx.reads) > 1 {
		return nil, errLostConnection
	}
	return tx.trs, nil
}

func (tx limitPageTx) BalanceRows(account ledger.ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	if from != 0 {
		return nil, nil
	}
	return tx.rows, nil
}

// TestVerifyReadsNoTransfersPastTheTimestampLimit checks that Verify
// reads no transfers of an account past a full page that ends at
// TimestampLimit: none can follow it (and a read from past it is out of
// the SQL stores' range).
func TestVerifyReadsNoTransfersPastTheTimestampLimit(t *testing.T) {
	s := heldHistory(t, ledger.PendingActive, nil, nil)
	var reads []uint64
	trs, rows := limitPage()
	page := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return limitPageTx{tx, &reads, trs, rows} }}
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", lastTimestamp(t, s), ledger.TimestampLimit)}},
		verifyProblems(t, page))
	assert.Equal(t, []uint64{1}, reads)
}
