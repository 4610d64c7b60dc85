package ledger_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// tamper writes to the store behind the ledger's back. As the ledger
// does, it records the greatest timestamp of the rows that fn inserts (and
// of the expiries of the expired pending states it inserts) as the last
// one, when that is past it, so that Verify finds only what fn wrote.
func tamper(t *testing.T, s ledger.Store, fn func(tx ledger.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		last, err := tx.LastTimestamp()
		if err != nil {
			return err
		}
		st := &stampingTx{Tx: tx, latest: last}
		if err := fn(st); err != nil {
			return err
		}
		if st.latest > last {
			return tx.SetLastTimestamp(st.latest)
		}
		return nil
	}))
}

// stampingTx keeps the greatest timestamp of the rows inserted through it
// (and the last timestamp it started from) in latest.
type stampingTx struct {
	ledger.Tx
	latest uint64
}

// stamp counts the timestamp of each row in tx.latest.
func stamp[T any](tx *stampingTx, rows []T, timestamp func(T) uint64) {
	for _, r := range rows {
		tx.latest = max(tx.latest, timestamp(r))
	}
}

func (tx *stampingTx) InsertAccounts(accounts []ledger.Account) error {
	stamp(tx, accounts, func(a ledger.Account) uint64 { return a.Timestamp })
	return tx.Tx.InsertAccounts(accounts)
}

func (tx *stampingTx) InsertTransfers(transfers []ledger.Transfer) error {
	stamp(tx, transfers, func(t ledger.Transfer) uint64 { return t.Timestamp })
	return tx.Tx.InsertTransfers(transfers)
}

// InsertPending counts the expiry of an expired state as well: the
// ledger expires a hold at a timestamp it assigns, at or after it.
func (tx *stampingTx) InsertPending(pending []ledger.Pending) error {
	stamp(tx, pending, func(p ledger.Pending) uint64 {
		if p.Status == ledger.PendingExpired {
			return max(p.Timestamp, p.ExpiresAt)
		}
		return p.Timestamp
	})
	return tx.Tx.InsertPending(pending)
}

func (tx *stampingTx) InsertFailed(failed []ledger.FailedTransfer) error {
	stamp(tx, failed, func(f ledger.FailedTransfer) uint64 { return f.Timestamp })
	return tx.Tx.InsertFailed(failed)
}

func (tx *stampingTx) InsertBalances(balances []ledger.BalanceRow) error {
	stamp(tx, balances, func(b ledger.BalanceRow) uint64 { return b.Timestamp })
	return tx.Tx.InsertBalances(balances)
}

func verifySetup(t *testing.T) (*ledger.Ledger, *memory.Store) {
	t.Helper()
	s := memory.New()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()
	_, err = l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1},
	})
	require.NoError(t, err)
	p := transfer(11, 4)
	p.Flags = ledger.TransferPending
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(10, 5), p})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	require.NoError(t, l.Verify(ctx))
	return l, s
}

func TestVerifyFindsTampering(t *testing.T) {
	one := ledger.IDFromUint64(1)
	tests := []struct {
		name    string
		tamper  func(tx ledger.Tx) error
		account ledger.ID // expected in a problem, when not zero
		xfer    ledger.ID
	}{
		{"balance", editedAccount(one, func(a *ledger.Account) { a.DebitsPosted++ }), one, ledger.ID{}},
		{"pending_status", func(tx ledger.Tx) error {
			return tx.UpdatePending([]ledger.Pending{{ID: ledger.IDFromUint64(11), Status: ledger.PendingPosted}})
		}, ledger.ID{}, ledger.IDFromUint64(11)},
		{"limit_flag", editedAccount(one, func(a *ledger.Account) { a.Flags |= ledger.AccountDebitsMustNotExceedCredits }), one, ledger.ID{}},
		{"orphan_resolution", func(tx ledger.Tx) error {
			bad := transfer(13, 1)
			bad.Flags = ledger.TransferVoidPendingTransfer
			bad.PendingID = ledger.IDFromUint64(10)
			bad.Timestamp = 1 << 62
			return tx.InsertTransfers([]ledger.Transfer{bad})
		}, ledger.ID{}, ledger.IDFromUint64(13)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			tamper(t, s, tt.tamper)
			err := l.Verify(context.Background())
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			var ve *ledger.VerifyError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Problems)
			found := false
			for _, p := range ve.Problems {
				if (!tt.account.IsZero() && p.AccountID == tt.account) || (!tt.xfer.IsZero() && p.TransferID == tt.xfer) {
					found = true
				}
			}
			assert.True(t, found, "problems: %v", ve.Problems)
		})
	}
}

// editedAccount returns a change for tamper: edit changes the stored
// row of account id.
func editedAccount(id ledger.ID, edit func(*ledger.Account)) func(ledger.Tx) error {
	return func(tx ledger.Tx) error {
		a, err := tx.Accounts([]ledger.ID{id})
		if err != nil {
			return err
		}
		if len(a) != 1 {
			return fmt.Errorf("account %v not stored", id)
		}
		edit(&a[0])
		return tx.UpdateAccounts(a)
	}
}

// altered shows a store's reads through alter, as a database whose foreign
// keys were not enforced shows rows that every store refuses to write.
type altered struct {
	ledger.Store
	alter func(ledger.ReadTx) ledger.ReadTx
}

func (s altered) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	return s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(s.alter(tx)) })
}

// assertVerify asserts that Verify of l finds the problems want, or none
// when want is nil.
func assertVerify(t *testing.T, l *ledger.Ledger, want []ledger.Problem) {
	t.Helper()
	err := l.Verify(context.Background())
	if want == nil {
		assert.NoError(t, err)
		return
	}
	var ve *ledger.VerifyError
	if assert.ErrorAs(t, err, &ve) {
		assert.Equal(t, want, ve.Problems)
	}
}

// verifyProblems runs Verify over s, which must find problems, and returns
// them.
func verifyProblems(t *testing.T, s ledger.Store) []ledger.Problem {
	t.Helper()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	err = l.Verify(context.Background())
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	var ve *ledger.VerifyError
	require.ErrorAs(t, err, &ve)
	return ve.Problems
}

// hidingTx reads without one of the accounts: a transfer of a missing
// account.
type hidingTx struct {
	ledger.ReadTx
	account ledger.ID
}

func (tx hidingTx) ForEachAccount(fn func(ledger.Account) error) error {
	return tx.ReadTx.ForEachAccount(func(a ledger.Account) error {
		if a.ID == tx.account {
			return nil
		}
		return fn(a)
	})
}

// TestVerifyFindsTransferOfMissingAccount checks that Verify finds the
// transfers of a missing account, and checks them otherwise as any
// other: the account that exists takes them in its balances, and a
// pending transfer is recorded with its state. Only the sums of the
// ledger, where the missing account's side is not counted, differ.
func TestVerifyFindsTransferOfMissingAccount(t *testing.T) {
	missing := func(id uint64) ledger.Problem {
		return ledger.Problem{TransferID: ledger.IDFromUint64(id), Detail: "refers to a missing account"}
	}
	tests := []struct {
		name   string
		hidden uint64
		sums   []string
	}{
		{"credit", 2, []string{"ledger 978: debits pending [0 4] differ from credits pending [0 0]",
			"ledger 978: debits posted [0 5] differ from credits posted [0 0]"}},
		{"debit", 1, []string{"ledger 978: debits pending [0 0] differ from credits pending [0 4]",
			"ledger 978: debits posted [0 0] differ from credits posted [0 5]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			hide := func(tx ledger.ReadTx) ledger.ReadTx { return hidingTx{tx, ledger.IDFromUint64(tt.hidden)} }
			want := []ledger.Problem{missing(10), missing(11)}
			for _, d := range tt.sums {
				want = append(want, ledger.Problem{Detail: d})
			}
			assert.Equal(t, want, verifyProblems(t, altered{s, hide}))
		})
	}
}

func TestCorruptStoreFailsTheBatch(t *testing.T) {
	l, s := verifySetup(t)
	// A pending transfer without its pending state.
	tamper(t, s, func(tx ledger.Tx) error {
		p := transfer(20, 1)
		p.Flags = ledger.TransferPending
		p.Timestamp = 1 << 62
		return tx.InsertTransfers([]ledger.Transfer{p})
	})
	post := ledger.Transfer{ID: ledger.IDFromUint64(21), PendingID: ledger.IDFromUint64(20), Flags: ledger.TransferPostPendingTransfer}
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(22, 1), post})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(22)})
	require.NoError(t, err)
	assert.Empty(t, got, "the whole batch was rolled back")
}

// extraPendingTx reads more pending states: states of missing transfers,
// or of ones that are not pending.
type extraPendingTx struct {
	ledger.ReadTx
	states []ledger.Pending // ascending ID order
}

// ForEachPending adds tx.states in their places in ascending ID order.
func (tx extraPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	extra := tx.states
	err := tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		for len(extra) > 0 && extra[0].ID.Compare(p.ID) < 0 {
			if err := fn(extra[0]); err != nil {
				return err
			}
			extra = extra[1:]
		}
		return fn(p)
	})
	for ; err == nil && len(extra) > 0; extra = extra[1:] {
		err = fn(extra[0])
	}
	return err
}

func TestVerifyFindsPendingStateWithoutPendingTransfer(t *testing.T) {
	tests := []struct {
		name string
		id   ledger.ID
	}{
		{"missing_transfer", ledger.IDFromUint64(99)},
		{"transfer_not_pending", ledger.IDFromUint64(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			extra := func(tx ledger.ReadTx) ledger.ReadTx {
				return extraPendingTx{tx, []ledger.Pending{{ID: tt.id, Status: ledger.PendingActive}}}
			}
			assert.Equal(t, []ledger.Problem{{TransferID: tt.id, Detail: "pending state without a pending transfer"}},
				verifyProblems(t, altered{s, extra}))
		})
	}
}

// laterPendingTx reads every pending state with a Timestamp one past its
// transfer's.
type laterPendingTx struct{ ledger.ReadTx }

func (tx laterPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	return tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		p.Timestamp++
		return fn(p)
	})
}

func TestVerifyFindsPendingStateOfAnotherTimestamp(t *testing.T) {
	l, s := verifySetup(t)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(11)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	ts := got[0].Timestamp
	later := func(tx ledger.ReadTx) ledger.ReadTx { return laterPendingTx{tx} }
	assert.Equal(t, []ledger.Problem{{TransferID: ledger.IDFromUint64(11),
		Detail: fmt.Sprintf("pending state has timestamp %d, transfer %d", ts+1, ts)}},
		verifyProblems(t, altered{s, later}))
}

// TestVerifyOrdersProblems checks that Verify lists the problems of
// pending states in ascending transfer ID order, whatever their kind, and
// those of ledgers in ascending ledger order, the same on every run.
func TestVerifyOrdersProblems(t *testing.T) {
	l, s := verifySetup(t)
	ctx := context.Background()
	_, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(3), Ledger: 840, Code: 1},
		{ID: ledger.IDFromUint64(4), Ledger: 36, Code: 1},
	})
	require.NoError(t, err)
	p13, p15 := transfer(13, 3), transfer(15, 2)
	p13.Flags, p15.Flags = ledger.TransferPending, ledger.TransferPending
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{p13, p15})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	tamper(t, s, func(tx ledger.Tx) error {
		// Posted, without a transfer that posts them.
		err := tx.UpdatePending([]ledger.Pending{
			{ID: ledger.IDFromUint64(15), Status: ledger.PendingPosted},
			{ID: ledger.IDFromUint64(11), Status: ledger.PendingPosted},
			{ID: ledger.IDFromUint64(13), Status: ledger.PendingPosted},
		})
		if err != nil {
			return err
		}
		return tx.UpdateAccounts([]ledger.Account{
			{ID: ledger.IDFromUint64(4), Ledger: 36, Code: 1, CreditsPending: 1},
			{ID: ledger.IDFromUint64(3), Ledger: 840, Code: 1, DebitsPosted: 1},
		})
	})
	extra := func(tx ledger.ReadTx) ledger.ReadTx {
		return extraPendingTx{tx, []ledger.Pending{
			{ID: ledger.IDFromUint64(12), Status: ledger.PendingActive},
			{ID: ledger.IDFromUint64(14), Status: ledger.PendingActive},
			{ID: ledger.IDFromUint64(16), Status: ledger.PendingActive},
		}}
	}
	resolved := "pending transfer is posted but resolved 0 time(s)"
	orphan := "pending state without a pending transfer"
	want := []ledger.Problem{
		{TransferID: ledger.IDFromUint64(11), Detail: resolved},
		{TransferID: ledger.IDFromUint64(12), Detail: orphan},
		{TransferID: ledger.IDFromUint64(13), Detail: resolved},
		{TransferID: ledger.IDFromUint64(14), Detail: orphan},
		{TransferID: ledger.IDFromUint64(15), Detail: resolved},
		{TransferID: ledger.IDFromUint64(16), Detail: orphan},
		{AccountID: ledger.IDFromUint64(1), Detail: "stored balances dp=9 dpo=5 cp=0 cpo=0, transfers give dp=0 dpo=5 cp=0 cpo=0"},
		{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=9 cpo=5, transfers give dp=0 dpo=0 cp=0 cpo=5"},
		{AccountID: ledger.IDFromUint64(3), Detail: "stored balances dp=0 dpo=1 cp=0 cpo=0, transfers give dp=0 dpo=0 cp=0 cpo=0"},
		{AccountID: ledger.IDFromUint64(4), Detail: "stored balances dp=0 dpo=0 cp=1 cpo=0, transfers give dp=0 dpo=0 cp=0 cpo=0"},
		{Detail: "ledger 36: debits pending [0 0] differ from credits pending [0 1]"},
		{Detail: "ledger 840: debits posted [0 1] differ from credits posted [0 0]"},
	}
	// Go randomises map iteration: an order taken from a map differs
	// between some of these runs.
	for range 20 {
		require.Equal(t, want, verifyProblems(t, altered{s, extra}))
	}
}

// TestVerifyReportsResolvedPendingWithoutStateOnce checks that a pending
// transfer without a pending state which later transfers post or void is
// reported once as such, not again by the transfer that resolves it nor
// as a pending transfer resolved against its state; only being resolved
// more than once is another problem.
func TestVerifyReportsResolvedPendingWithoutStateOnce(t *testing.T) {
	noState := ledger.Problem{TransferID: ledger.IDFromUint64(20), Detail: "pending transfer without a pending state"}
	tests := []struct {
		name      string
		resolvers []ledger.TransferFlags
		want      []ledger.Problem
	}{
		{"posted", []ledger.TransferFlags{ledger.TransferPostPendingTransfer}, []ledger.Problem{noState}},
		{"voided", []ledger.TransferFlags{ledger.TransferVoidPendingTransfer}, []ledger.Problem{noState}},
		{"posted_and_voided", []ledger.TransferFlags{ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer},
			[]ledger.Problem{noState, {TransferID: ledger.IDFromUint64(20), Detail: "pending transfer without a pending state resolved 2 time(s)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			tamper(t, s, func(tx ledger.Tx) error {
				p := transfer(20, 3)
				p.Flags = ledger.TransferPending
				p.Timestamp = 1 << 62
				written := []ledger.Transfer{p}
				var posted uint64
				for i, flags := range tt.resolvers {
					r := transfer(21+uint64(i), 3)
					r.Flags, r.PendingID, r.Timestamp = flags, p.ID, p.Timestamp+1+uint64(i)
					written = append(written, r)
					if flags&ledger.TransferPostPendingTransfer != 0 {
						posted += r.Amount
					}
				}
				// The balances the transfers give.
				a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
				if err != nil {
					return err
				}
				a[0].DebitsPosted += posted
				a[1].CreditsPosted += posted
				if err := tx.UpdateAccounts(a); err != nil {
					return err
				}
				return tx.InsertTransfers(written)
			})
			assert.Equal(t, tt.want, verifyProblems(t, s))
		})
	}
}

// resolveHold writes r, a post or void of the pending transfer 11 that
// verifySetup creates (4 from account 1 to account 2), stamped after every
// transfer, with the pending state and the balances that agree with it:
// the hold released, and what a post moves added to r's own accounts (an
// amount above AmountLimit, which Verify leaves out of the balances,
// moves nothing).
func resolveHold(t *testing.T, s ledger.Store, r ledger.Transfer) {
	t.Helper()
	tamper(t, s, func(tx ledger.Tx) error {
		r.PendingID, r.Timestamp = ledger.IDFromUint64(11), 1<<62
		a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		if err != nil {
			return err
		}
		byID := map[ledger.ID]*ledger.Account{a[0].ID: &a[0], a[1].ID: &a[1]}
		byID[ledger.IDFromUint64(1)].DebitsPending -= 4
		byID[ledger.IDFromUint64(2)].CreditsPending -= 4
		status := ledger.PendingVoided
		if r.Flags&ledger.TransferPostPendingTransfer != 0 {
			status = ledger.PendingPosted
			if r.Amount <= ledger.AmountLimit {
				byID[r.DebitAccountID].DebitsPosted += r.Amount
				byID[r.CreditAccountID].CreditsPosted += r.Amount
			}
		}
		if err := tx.UpdateAccounts(a); err != nil {
			return err
		}
		if err := tx.UpdatePending([]ledger.Pending{{ID: r.PendingID, Status: status}}); err != nil {
			return err
		}
		return tx.InsertTransfers([]ledger.Transfer{r})
	})
}

// TestVerifyFindsResolutionUnlikeItsPendingTransfer checks that Verify
// finds a post or void that the ledger would not have written for its
// pending transfer: other accounts, ledger or code (the ledger copies
// them), a post of more than the pending amount, or a void of another
// amount than it (the ledger stores the pending amount).
func TestVerifyFindsResolutionUnlikeItsPendingTransfer(t *testing.T) {
	post, void := ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer
	with := func(flags ledger.TransferFlags, amount uint64, fn func(*ledger.Transfer)) ledger.Transfer {
		r := transfer(13, amount)
		r.Flags = flags
		if fn != nil {
			fn(&r)
		}
		return r
	}
	p11 := ledger.IDFromUint64(11)
	tests := []struct {
		name   string
		r      ledger.Transfer
		detail []string
	}{
		{"post_accounts", with(post, 4, func(r *ledger.Transfer) {
			r.DebitAccountID, r.CreditAccountID = r.CreditAccountID, r.DebitAccountID
		}), []string{fmt.Sprintf("has other accounts than its pending transfer %v", p11)}},
		{"post_amount_above", with(post, 5, nil),
			[]string{fmt.Sprintf("posts 5, more than its pending transfer %v holds (4)", p11)}},
		{"void_amount_below", with(void, 3, nil),
			[]string{fmt.Sprintf("voids 3, where its pending transfer %v holds 4", p11)}},
		{"void_amount_zero", with(void, 0, nil),
			[]string{fmt.Sprintf("voids 0, where its pending transfer %v holds 4", p11)}},
		{"void_amount_above", with(void, 5, nil),
			[]string{fmt.Sprintf("voids 5, where its pending transfer %v holds 4", p11)}},
		{"post_code", with(post, 4, func(r *ledger.Transfer) { r.Code = 2 }),
			[]string{fmt.Sprintf("has ledger 978 and code 2, its pending transfer %v ledger 978 and code 1", p11)}},
		{"void_code", with(void, 4, func(r *ledger.Transfer) { r.Code = 2 }),
			[]string{fmt.Sprintf("has ledger 978 and code 2, its pending transfer %v ledger 978 and code 1", p11)}},
		{"void_debit_account", with(void, 4, func(r *ledger.Transfer) { r.DebitAccountID = ledger.IDFromUint64(3) }),
			[]string{fmt.Sprintf("has other accounts than its pending transfer %v", p11)}},
		{"void_credit_account", with(void, 4, func(r *ledger.Transfer) { r.CreditAccountID = ledger.IDFromUint64(3) }),
			[]string{fmt.Sprintf("has other accounts than its pending transfer %v", p11)}},
		{"post_code_zero", with(post, 4, func(r *ledger.Transfer) { r.Code = 0 }),
			[]string{fmt.Sprintf("has ledger 978 and code 0, its pending transfer %v ledger 978 and code 1", p11)}},
		{"void_ledger", with(void, 4, func(r *ledger.Transfer) { r.Ledger = 840 }), []string{
			"ledger 840 differs from its accounts'",
			fmt.Sprintf("has ledger 840 and code 1, its pending transfer %v ledger 978 and code 1", p11)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			// Account 3, which transfers do not name, is there to be named
			// instead of one of the hold's.
			createAccounts(t, l, []ledger.Account{{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1}})
			resolveHold(t, s, tt.r)
			var want []ledger.Problem
			for _, d := range tt.detail {
				want = append(want, ledger.Problem{TransferID: tt.r.ID, Detail: d})
			}
			assert.Equal(t, want, verifyProblems(t, s))
		})
	}
}

// TestVerifyPassesResolutions checks that the posts and voids that
// resolveHold writes as the ledger would pass Verify: a partial post,
// a post and a void of the whole pending amount, linked or not.
func TestVerifyPassesResolutions(t *testing.T) {
	for _, r := range []struct {
		flags  ledger.TransferFlags
		amount uint64
	}{{ledger.TransferPostPendingTransfer, 0}, {ledger.TransferPostPendingTransfer, 3},
		{ledger.TransferPostPendingTransfer, 4}, {ledger.TransferVoidPendingTransfer, 4},
		{ledger.TransferPostPendingTransfer | ledger.TransferLinked, 4}, {ledger.TransferVoidPendingTransfer | ledger.TransferLinked, 4}} {
		l, s := verifySetup(t)
		tr := transfer(13, r.amount)
		tr.Flags = r.flags
		resolveHold(t, s, tr)
		require.NoError(t, l.Verify(context.Background()), "%+v", r)
	}
}

// closingHold returns a pending transfer stamped after every transfer of
// verifySetup, of 3 from account 1 to account 2, with the flags given.
func closingHold(id uint64, flags ledger.TransferFlags, ts uint64) ledger.Transfer {
	p := transfer(id, 3)
	p.Flags = ledger.TransferPending | flags
	p.Timestamp = ts
	return p
}

// hold writes the pending transfers ps with pending states of status
// (their balances held when active), and sets AccountClosed on the
// accounts closed names (other accounts keep their flags).
func hold(tx ledger.Tx, ps []ledger.Transfer, status ledger.PendingStatus, closed ...ledger.ID) error {
	a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
	if err != nil {
		return err
	}
	var states []ledger.Pending
	for _, p := range ps {
		if status == ledger.PendingActive {
			a[0].DebitsPending += p.Amount
			a[1].CreditsPending += p.Amount
		}
		states = append(states, ledger.Pending{ID: p.ID, Status: status, ExpiresAt: p.ExpiresAt(), Timestamp: p.Timestamp})
	}
	for i := range a {
		for _, c := range closed {
			if a[i].ID == c {
				a[i].Flags |= ledger.AccountClosed
			}
		}
	}
	if err := tx.UpdateAccounts(a); err != nil || len(ps) == 0 {
		return err
	}
	if err := tx.InsertTransfers(ps); err != nil {
		return err
	}
	return tx.InsertPending(states)
}

// TestVerifyFindsClosedFlagUnlikeClosingTransfers checks that Verify
// finds an account whose AccountClosed flag disagrees with the active
// pending transfers that close it: flagged without one (yet not created
// closed, for transfers name it), one closing it without the flag, or
// more than one closing it.
func TestVerifyFindsClosedFlagUnlikeClosingTransfers(t *testing.T) {
	one, two := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	const ts = 1 << 62
	drCloser := closingHold(20, ledger.TransferClosingDebit, ts)
	crCloser := closingHold(21, ledger.TransferClosingCredit, ts+1)
	bothCloser := closingHold(22, ledger.TransferClosingDebit|ledger.TransferClosingCredit, ts+2)
	noCloser := "flagged closed, but no active pending transfer closes it and transfers name it"
	expiring := drCloser
	expiring.Timeout = 1
	// Created by the ledger, then voided: account 1 is open again.
	closed := drCloser
	closed.Timestamp = 0
	voided := ledger.Transfer{ID: ledger.IDFromUint64(23), PendingID: closed.ID, Flags: ledger.TransferVoidPendingTransfer}
	tests := []struct {
		name    string
		created []ledger.Transfer // by the ledger, before tamper
		tamper  func(tx ledger.Tx) error
		want    []ledger.Problem
	}{
		{"flagged_without_closing_transfer", nil, func(tx ledger.Tx) error { return hold(tx, nil, 0, one) },
			[]ledger.Problem{{AccountID: one, Detail: noCloser}}},
		{"flagged_after_void", []ledger.Transfer{closed, voided}, func(tx ledger.Tx) error { return hold(tx, nil, 0, one) },
			[]ledger.Problem{{AccountID: one, Detail: noCloser}}},
		{"flagged_after_expiry", nil, func(tx ledger.Tx) error {
			return hold(tx, []ledger.Transfer{expiring}, ledger.PendingExpired, one)
		}, []ledger.Problem{{AccountID: one, Detail: noCloser}}},
		{"closing_debit_not_flagged", nil, func(tx ledger.Tx) error {
			return hold(tx, []ledger.Transfer{drCloser}, ledger.PendingActive)
		}, []ledger.Problem{{AccountID: one, Detail: fmt.Sprintf("not flagged closed, but pending transfer %v closes it", drCloser.ID)}}},
		{"closing_credit_not_flagged", nil, func(tx ledger.Tx) error {
			return hold(tx, []ledger.Transfer{crCloser}, ledger.PendingActive)
		}, []ledger.Problem{{AccountID: two, Detail: fmt.Sprintf("not flagged closed, but pending transfer %v closes it", crCloser.ID)}}},
		{"closing_both_one_flagged", nil, func(tx ledger.Tx) error {
			return hold(tx, []ledger.Transfer{bothCloser}, ledger.PendingActive, one)
		}, []ledger.Problem{{AccountID: two, Detail: fmt.Sprintf("not flagged closed, but pending transfer %v closes it", bothCloser.ID)}}},
		{"closed_twice", nil, func(tx ledger.Tx) error {
			return hold(tx, []ledger.Transfer{drCloser, bothCloser}, ledger.PendingActive, one, two)
		}, []ledger.Problem{
			{TransferID: bothCloser.ID, Detail: fmt.Sprintf("names account %v, closed by %v", one, drCloser.ID)},
			{AccountID: one, Detail: fmt.Sprintf("closed by 2 active pending transfers, %v the first", drCloser.ID)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			for _, c := range tt.created {
				res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{c})
				require.NoError(t, err)
				require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			}
			require.NoError(t, l.Verify(context.Background()))
			tamper(t, s, tt.tamper)
			assert.Equal(t, tt.want, verifyProblems(t, s))
		})
	}
}

// TestVerifyPassesClosedAccounts checks that an account created closed,
// which no transfer names, and accounts that active closing transfers
// close, pass Verify.
func TestVerifyPassesClosedAccounts(t *testing.T) {
	l, s := verifySetup(t)
	ctx := context.Background()
	createAccounts(t, l, []ledger.Account{{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1, Flags: ledger.AccountClosed}})
	require.NoError(t, l.Verify(ctx))
	tamper(t, s, func(tx ledger.Tx) error {
		return hold(tx, []ledger.Transfer{closingHold(22, ledger.TransferClosingDebit|ledger.TransferClosingCredit, 1<<62)},
			ledger.PendingActive, ledger.IDFromUint64(1), ledger.IDFromUint64(2))
	})
	require.NoError(t, l.Verify(ctx))
}

// restampTx reads transfers as a store whose order by timestamp broke:
// every transfer in reversed order, or, when id is not zero, in order
// with transfer id stamped ts.
type restampTx struct {
	ledger.ReadTx
	id ledger.ID
	ts uint64
}

func (tx restampTx) ForEachTransfer(fn func(ledger.Transfer) error) error {
	var all []ledger.Transfer
	err := tx.ReadTx.ForEachTransfer(func(t ledger.Transfer) error {
		if t.ID == tx.id {
			t.Timestamp = tx.ts
		}
		all = append(all, t)
		return nil
	})
	if err != nil {
		return err
	}
	if tx.id.IsZero() {
		slices.Reverse(all)
	}
	for _, t := range all {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// TestVerifyFindsTimestampsOutOfOrder checks that Verify finds a transfer
// whose timestamp is not past the one read before it: read in reversed
// order, stamped as the one before it, or before it.
func TestVerifyFindsTimestampsOutOfOrder(t *testing.T) {
	l, s := verifySetup(t)
	ctx := context.Background()
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(12, 1)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	ids := []ledger.ID{ledger.IDFromUint64(10), ledger.IDFromUint64(11), ledger.IDFromUint64(12)}
	got, err := l.LookupTransfers(ctx, ids)
	require.NoError(t, err)
	require.Len(t, got, 3)
	ts10, ts11, ts12 := got[0].Timestamp, got[1].Timestamp, got[2].Timestamp
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	notAfter := func(id ledger.ID, ts, last uint64) ledger.Problem {
		return ledger.Problem{TransferID: id, Detail: fmt.Sprintf("timestamp %d not after %d", ts, last)}
	}
	tests := []struct {
		name string
		tx   func(ledger.ReadTx) ledger.ReadTx
		want []ledger.Problem
	}{
		{"reversed", func(tx ledger.ReadTx) ledger.ReadTx { return restampTx{ReadTx: tx} },
			[]ledger.Problem{notAfter(ids[1], ts11, ts12), notAfter(ids[0], ts10, ts11)}},
		{"repeated", func(tx ledger.ReadTx) ledger.ReadTx { return restampTx{tx, ids[2], ts11} },
			[]ledger.Problem{notAfter(ids[2], ts11, ts11)}},
		{"earlier", func(tx ledger.ReadTx) ledger.ReadTx { return restampTx{tx, ids[2], ts11 - 1} },
			[]ledger.Problem{notAfter(ids[2], ts11-1, ts11)}},
		// Stamped before its accounts, too.
		{"zero_first", func(tx ledger.ReadTx) ledger.ReadTx { return restampTx{tx, ids[0], 0} },
			[]ledger.Problem{notAfter(ids[0], 0, 0),
				{TransferID: ids[0], Detail: fmt.Sprintf("names account %v, created at %d", ledger.IDFromUint64(1), accounts[0].Timestamp)},
				{TransferID: ids[0], Detail: fmt.Sprintf("names account %v, created at %d", ledger.IDFromUint64(2), accounts[1].Timestamp)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, verifyProblems(t, altered{s, tt.tx}))
		})
	}
}

// TestVerifyFindsAmountAboveLimit checks that Verify finds a stored
// transfer of more than AmountLimit, which the ledger never writes (it
// stores a post of AmountMax with the pending amount), and leaves it out
// of the balances.
func TestVerifyFindsAmountAboveLimit(t *testing.T) {
	for _, amount := range []uint64{ledger.AmountLimit + 1, ledger.AmountMax} {
		t.Run(fmt.Sprint(amount), func(t *testing.T) {
			_, s := verifySetup(t)
			tamper(t, s, func(tx ledger.Tx) error {
				big := transfer(12, amount)
				big.Timestamp = 1 << 62
				return tx.InsertTransfers([]ledger.Transfer{big})
			})
			assert.Equal(t, []ledger.Problem{{TransferID: ledger.IDFromUint64(12),
				Detail: fmt.Sprintf("amount %d above the limit", amount)}}, verifyProblems(t, s))
		})
	}
}

// postPlain writes trs, transfers of verifySetup's accounts (1 and 2)
// that post at once, stamped after every transfer in their order unless
// they carry a timestamp, with the balances they give.
func postPlain(t *testing.T, s ledger.Store, trs ...ledger.Transfer) {
	t.Helper()
	tamper(t, s, func(tx ledger.Tx) error {
		a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		if err != nil {
			return err
		}
		byID := map[ledger.ID]*ledger.Account{a[0].ID: &a[0], a[1].ID: &a[1]}
		for i := range trs {
			if trs[i].Timestamp == 0 {
				trs[i].Timestamp = 1<<62 + uint64(i)
			}
			byID[trs[i].DebitAccountID].DebitsPosted += trs[i].Amount
			byID[trs[i].CreditAccountID].CreditsPosted += trs[i].Amount
		}
		if err := tx.UpdateAccounts(a); err != nil {
			return err
		}
		return tx.InsertTransfers(trs)
	})
}

// TestVerifyFindsBalanceAboveLimit checks that Verify finds a balance
// above AmountLimit, one field or the sum of a side's pending and posted
// amounts, where the stored balances are what the transfers give: the
// ledger refuses a transfer that takes one there (overflows_*).
func TestVerifyFindsBalanceAboveLimit(t *testing.T) {
	one, two := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	above := func(a ledger.ID, v uint64) ledger.Problem {
		return ledger.Problem{AccountID: a, Detail: fmt.Sprintf("balance %d above the limit", v)}
	}
	// Transfer id took the debits of account 1 and the credits of
	// account 2 to v when it was created.
	took := func(id uint64, v uint64) []ledger.Problem {
		return []ledger.Problem{
			{TransferID: ledger.IDFromUint64(id), Detail: fmt.Sprintf("takes the debits of account %v to %d, above the limit", one, v)},
			{TransferID: ledger.IDFromUint64(id), Detail: fmt.Sprintf("takes the credits of account %v to %d, above the limit", two, v)},
		}
	}
	tests := []struct {
		name    string
		amounts []uint64 // posted from account 1 to account 2, after verifySetup's 5 posted and 4 pending
		want    []ledger.Problem
	}{
		// Pending and posted at the limit: no problem.
		{"at_limit", []uint64{ledger.AmountLimit - 9}, nil},
		// Posted at the limit, pending and posted past it.
		{"sum", []uint64{ledger.AmountLimit - 5}, slices.Concat(took(20, ledger.AmountLimit+4),
			[]ledger.Problem{above(one, ledger.AmountLimit+4), above(two, ledger.AmountLimit+4)})},
		// Posted past the limit, and so pending and posted.
		{"posted", []uint64{ledger.AmountLimit, 1}, slices.Concat(took(20, ledger.AmountLimit+9), took(21, ledger.AmountLimit+10),
			[]ledger.Problem{above(one, ledger.AmountLimit+6), above(one, ledger.AmountLimit+10),
				above(two, ledger.AmountLimit+6), above(two, ledger.AmountLimit+10)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			var written []ledger.Transfer
			for i, amount := range tt.amounts {
				written = append(written, transfer(20+uint64(i), amount))
			}
			postPlain(t, s, written...)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsResolutionWithExcludedFields checks that Verify finds a
// post or void that the ledger refuses with flags_are_mutually_exclusive
// (also pending, balancing or closing, or both a post and a void) or
// timeout_reserved_for_pending_transfer, and a transfer that posts at
// once with a timeout; such a post or void is checked as the ledger reads
// it, as a post or void, pending flag or not.
func TestVerifyFindsResolutionWithExcludedFields(t *testing.T) {
	post, void := ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer
	exclusive := func(f ledger.TransferFlags) string { return fmt.Sprintf("flags %#x are mutually exclusive", f) }
	timeout := "timeout 5 on a transfer that is not pending"
	tests := []struct {
		name    string
		flags   ledger.TransferFlags
		timeout uint32
		detail  []string
	}{
		{"post_pending", post | ledger.TransferPending, 0, []string{exclusive(post | ledger.TransferPending)}},
		{"void_pending", void | ledger.TransferPending, 0, []string{exclusive(void | ledger.TransferPending)}},
		{"post_balancing_debit", post | ledger.TransferBalancingDebit, 0, []string{exclusive(post | ledger.TransferBalancingDebit)}},
		{"void_balancing_credit", void | ledger.TransferBalancingCredit, 0, []string{exclusive(void | ledger.TransferBalancingCredit)}},
		{"post_closing_debit", post | ledger.TransferClosingDebit, 0, []string{exclusive(post | ledger.TransferClosingDebit)}},
		{"void_closing_credit", void | ledger.TransferClosingCredit, 0, []string{exclusive(void | ledger.TransferClosingCredit)}},
		{"post_and_void", post | void, 0, []string{exclusive(post | void)}},
		{"post_timeout", post, 5, []string{timeout}},
		{"void_timeout", void, 5, []string{timeout}},
		{"pending_post_timeout", post | ledger.TransferPending, 5, []string{exclusive(post | ledger.TransferPending), timeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			r := transfer(13, 4)
			r.Flags, r.Timeout = tt.flags, tt.timeout
			resolveHold(t, s, r)
			var want []ledger.Problem
			for _, d := range tt.detail {
				want = append(want, ledger.Problem{TransferID: r.ID, Detail: d})
			}
			assert.Equal(t, want, verifyProblems(t, s))
		})
	}
	t.Run("single_phase_timeout", func(t *testing.T) {
		_, s := verifySetup(t)
		tr := transfer(13, 1)
		tr.Timeout = 5
		postPlain(t, s, tr)
		assert.Equal(t, []ledger.Problem{{TransferID: tr.ID, Detail: timeout}}, verifyProblems(t, s))
	})
}

// TestVerifyFindsClosingTransferNotPending checks that Verify finds a
// transfer that posts at once with a closing flag, which the ledger
// refuses with closing_transfer_must_be_pending.
func TestVerifyFindsClosingTransferNotPending(t *testing.T) {
	for _, flags := range []ledger.TransferFlags{ledger.TransferClosingDebit, ledger.TransferClosingCredit,
		ledger.TransferClosingDebit | ledger.TransferClosingCredit, ledger.TransferClosingCredit | ledger.TransferLinked} {
		t.Run(fmt.Sprintf("%#x", flags), func(t *testing.T) {
			_, s := verifySetup(t)
			tr := transfer(13, 1)
			tr.Flags = flags
			postPlain(t, s, tr)
			assert.Equal(t, []ledger.Problem{{TransferID: tr.ID, Detail: fmt.Sprintf("closing flags %#x on a transfer that is not pending", flags&(ledger.TransferClosingDebit|ledger.TransferClosingCredit))}},
				verifyProblems(t, s))
		})
	}
}

// TestVerifyChecksTransferAboveLimit checks that a transfer of more than
// AmountLimit, reported and left out of the balances, gets the other
// checks of its kind all the same: the ledger of a transfer that posts at
// once, the pending state of a pending transfer (which is not reported
// as a state without a pending transfer), and the pending transfer that a
// post resolves (which is not reported as resolved no time).
func TestVerifyChecksTransferAboveLimit(t *testing.T) {
	big := ledger.AmountLimit + 1
	aboveLimit := func(id uint64) ledger.Problem {
		return ledger.Problem{TransferID: ledger.IDFromUint64(id), Detail: fmt.Sprintf("amount %d above the limit", big)}
	}
	p11 := ledger.IDFromUint64(11)
	tests := []struct {
		name  string
		write func(t *testing.T, s ledger.Store)
		want  []ledger.Problem
	}{
		{"single_phase_ledger", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				tr := transfer(20, big)
				tr.Ledger, tr.Timestamp = 840, 1<<62
				return tx.InsertTransfers([]ledger.Transfer{tr})
			})
		}, []ledger.Problem{aboveLimit(20), {TransferID: ledger.IDFromUint64(20), Detail: "ledger 840 differs from its accounts'"}}},
		{"pending", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				p := transfer(20, big)
				p.Flags, p.Timestamp = ledger.TransferPending, 1<<62
				if err := tx.InsertTransfers([]ledger.Transfer{p}); err != nil {
					return err
				}
				return tx.InsertPending([]ledger.Pending{{ID: p.ID, Status: ledger.PendingActive, Timestamp: p.Timestamp}})
			})
		}, []ledger.Problem{aboveLimit(20)}},
		{"post", func(t *testing.T, s ledger.Store) {
			r := transfer(20, big)
			r.Flags = ledger.TransferPostPendingTransfer
			resolveHold(t, s, r)
		}, []ledger.Problem{aboveLimit(20),
			{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("posts %d, more than its pending transfer %v holds (4)", big, p11)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			tt.write(t, s)
			assert.Equal(t, tt.want, verifyProblems(t, s))
		})
	}
}

// rewriteTx reads transfer id as rewrite leaves it: a row that every
// store refuses to write, or one the ledger never writes.
type rewriteTx struct {
	ledger.ReadTx
	id      ledger.ID
	rewrite func(*ledger.Transfer)
}

func (tx rewriteTx) ForEachTransfer(fn func(ledger.Transfer) error) error {
	return tx.ReadTx.ForEachTransfer(func(t ledger.Transfer) error {
		if t.ID == tx.id {
			tx.rewrite(&t)
		}
		return fn(t)
	})
}

// TestVerifyFindsTransferFieldsTheLedgerRefuses checks that Verify finds
// a transfer with a field that the ledger refuses when it creates one: a
// zero or IDMax ID, a reserved flag, a pending ID on a transfer that is
// not a post or void, the same debit and credit account, a zero code.
func TestVerifyFindsTransferFieldsTheLedgerRefuses(t *testing.T) {
	ten, eleven := ledger.IDFromUint64(10), ledger.IDFromUint64(11)
	notResolving := func(id, pid ledger.ID) ledger.Problem {
		return ledger.Problem{TransferID: id, Detail: fmt.Sprintf("pending ID %v on a transfer that is not a post or void", pid)}
	}
	tests := []struct {
		name    string
		id      ledger.ID
		rewrite func(*ledger.Transfer)
		want    []ledger.Problem
	}{
		{"id_zero", ten, func(t *ledger.Transfer) { t.ID = ledger.ID{} },
			[]ledger.Problem{{Detail: fmt.Sprintf("reserved transfer ID %v", ledger.ID{})}}},
		{"id_max", ten, func(t *ledger.Transfer) { t.ID = ledger.IDMax },
			[]ledger.Problem{{TransferID: ledger.IDMax, Detail: fmt.Sprintf("reserved transfer ID %v", ledger.IDMax)}}},
		{"reserved_flag", ten, func(t *ledger.Transfer) { t.Flags |= 1 << 8 },
			[]ledger.Problem{{TransferID: ten, Detail: "reserved flags 0x100"}}},
		{"pending_id_single_phase", ten, func(t *ledger.Transfer) { t.PendingID = eleven },
			[]ledger.Problem{notResolving(ten, eleven)}},
		{"pending_id_pending", eleven, func(t *ledger.Transfer) { t.PendingID = ten },
			[]ledger.Problem{notResolving(eleven, ten)}},
		{"same_account", ten, func(t *ledger.Transfer) { t.CreditAccountID = t.DebitAccountID },
			[]ledger.Problem{{TransferID: ten, Detail: "debits and credits the same account"},
				{AccountID: ledger.IDFromUint64(1), Detail: "stored balances dp=4 dpo=5 cp=0 cpo=0, transfers give dp=4 dpo=5 cp=0 cpo=5"},
				{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=4 cpo=5, transfers give dp=0 dpo=0 cp=4 cpo=0"}}},
		{"code_zero", ten, func(t *ledger.Transfer) { t.Code = 0 },
			[]ledger.Problem{{TransferID: ten, Detail: "code zero"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			rewrite := func(tx ledger.ReadTx) ledger.ReadTx { return rewriteTx{tx, tt.id, tt.rewrite} }
			assert.Equal(t, tt.want, verifyProblems(t, altered{s, rewrite}))
		})
	}
}

// holdResolved writes p, a pending transfer from account 1 to account 2,
// and r, a post or void of it stamped at p's timestamp plus after, with
// the pending state and the balances they leave.
func holdResolved(t *testing.T, s ledger.Store, p, r ledger.Transfer, after uint64) {
	t.Helper()
	tamper(t, s, func(tx ledger.Tx) error {
		a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		if err != nil {
			return err
		}
		slices.SortFunc(a, func(x, y ledger.Account) int { return x.ID.Compare(y.ID) })
		r.PendingID, r.Timestamp = p.ID, p.Timestamp+after
		status := ledger.PendingVoided
		if r.Flags&ledger.TransferPostPendingTransfer != 0 {
			status = ledger.PendingPosted
			a[0].DebitsPosted += r.Amount
			a[1].CreditsPosted += r.Amount
		}
		if err := tx.UpdateAccounts(a); err != nil {
			return err
		}
		if err := tx.InsertTransfers([]ledger.Transfer{p, r}); err != nil {
			return err
		}
		return tx.InsertPending([]ledger.Pending{{ID: p.ID, Status: status, ExpiresAt: p.ExpiresAt(), Timestamp: p.Timestamp}})
	})
}

// TestVerifyFindsResolutionOfExpiredHold checks that Verify finds a post
// or void stamped at or after the expiry of its pending transfer, which
// the ledger expires instead (pending_transfer_expired), and passes one
// stamped just before.
func TestVerifyFindsResolutionOfExpiredHold(t *testing.T) {
	p := closingHold(20, 0, 1<<62)
	p.Timeout = 1
	expires := p.ExpiresAt()
	tests := []struct {
		name  string
		flags ledger.TransferFlags
		after uint64
		want  []ledger.Problem
	}{
		{"post_before", ledger.TransferPostPendingTransfer, 1e9 - 1, nil},
		{"void_before", ledger.TransferVoidPendingTransfer, 1e9 - 1, nil},
		{"post_at", ledger.TransferPostPendingTransfer, 1e9, []ledger.Problem{{TransferID: ledger.IDFromUint64(21),
			Detail: fmt.Sprintf("resolves %v, which expired at %d", p.ID, expires)}}},
		{"void_after", ledger.TransferVoidPendingTransfer, 2e9, []ledger.Problem{{TransferID: ledger.IDFromUint64(21),
			Detail: fmt.Sprintf("resolves %v, which expired at %d", p.ID, expires)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			r := transfer(21, 3)
			r.Flags = tt.flags
			holdResolved(t, s, p, r, tt.after)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsPostOfClosingTransfer checks that Verify finds a post of
// a closing pending transfer, which the ledger refuses while the account
// it closes stays closed (debit_account_already_closed,
// credit_account_already_closed), and passes a void of one.
func TestVerifyFindsPostOfClosingTransfer(t *testing.T) {
	tests := []struct {
		name  string
		p     ledger.TransferFlags
		flags ledger.TransferFlags
		want  []ledger.Problem
	}{
		{"void_closing_debit", ledger.TransferClosingDebit, ledger.TransferVoidPendingTransfer, nil},
		{"post_closing_debit", ledger.TransferClosingDebit, ledger.TransferPostPendingTransfer, []ledger.Problem{{
			TransferID: ledger.IDFromUint64(21), Detail: fmt.Sprintf("posts %v, which closes an account", ledger.IDFromUint64(20))}}},
		{"post_closing_credit", ledger.TransferClosingCredit, ledger.TransferPostPendingTransfer, []ledger.Problem{{
			TransferID: ledger.IDFromUint64(21), Detail: fmt.Sprintf("posts %v, which closes an account", ledger.IDFromUint64(20))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			r := transfer(21, 3)
			r.Flags = tt.flags
			holdResolved(t, s, closingHold(20, tt.p, 1<<62), r, 1)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsPendingStateOfUnknownStatus checks that Verify finds a
// pending state whose status is none of active, posted, voided and
// expired, which the ledger never writes.
func TestVerifyFindsPendingStateOfUnknownStatus(t *testing.T) {
	for _, status := range []ledger.PendingStatus{ledger.PendingNone, ledger.PendingExpired + 1} {
		t.Run(status.String(), func(t *testing.T) {
			_, s := verifySetup(t)
			// Hold released, as for any status but active.
			tamper(t, s, func(tx ledger.Tx) error {
				a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
				if err != nil {
					return err
				}
				slices.SortFunc(a, func(x, y ledger.Account) int { return x.ID.Compare(y.ID) })
				a[0].DebitsPending -= 4
				a[1].CreditsPending -= 4
				if err := tx.UpdateAccounts(a); err != nil {
					return err
				}
				return tx.UpdatePending([]ledger.Pending{{ID: ledger.IDFromUint64(11), Status: status}})
			})
			assert.Equal(t, []ledger.Problem{{TransferID: ledger.IDFromUint64(11), Detail: fmt.Sprintf("pending state has status %v", status)}},
				verifyProblems(t, s))
		})
	}
}

// TestVerifyFindsAccountFieldsTheLedgerRefuses checks that Verify finds
// an account with a field that the ledger refuses when it creates one: a
// zero or IDMax ID, a reserved flag, both limit flags, a zero ledger or
// code.
func TestVerifyFindsAccountFieldsTheLedgerRefuses(t *testing.T) {
	three := ledger.IDFromUint64(3)
	tests := []struct {
		name string
		a    ledger.Account
		want ledger.Problem
	}{
		{"id_zero", ledger.Account{Ledger: 978, Code: 1}, ledger.Problem{Detail: fmt.Sprintf("reserved account ID %v", ledger.ID{})}},
		{"id_max", ledger.Account{ID: ledger.IDMax, Ledger: 978, Code: 1},
			ledger.Problem{AccountID: ledger.IDMax, Detail: fmt.Sprintf("reserved account ID %v", ledger.IDMax)}},
		{"reserved_flag", ledger.Account{ID: three, Ledger: 978, Code: 1, Flags: 1 << 4},
			ledger.Problem{AccountID: three, Detail: "reserved flags 0x10"}},
		{"limit_flags", ledger.Account{ID: three, Ledger: 978, Code: 1,
			Flags: ledger.AccountDebitsMustNotExceedCredits | ledger.AccountCreditsMustNotExceedDebits},
			ledger.Problem{AccountID: three, Detail: "flags 0x6 are mutually exclusive"}},
		{"ledger_zero", ledger.Account{ID: three, Code: 1}, ledger.Problem{AccountID: three, Detail: "ledger zero"}},
		{"code_zero", ledger.Account{ID: three, Ledger: 978}, ledger.Problem{AccountID: three, Detail: "code zero"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			tamper(t, s, func(tx ledger.Tx) error {
				a := tt.a
				a.Timestamp = 1 << 62
				return tx.InsertAccounts([]ledger.Account{a})
			})
			assert.Equal(t, []ledger.Problem{tt.want}, verifyProblems(t, s))
		})
	}
}

// TestVerifyFindsTimestampsTheLedgerNeverAssigns checks that Verify finds
// a timestamp above TimestampLimit, a pending transfer that expires past
// it (overflows_timeout), an account's zero timestamp, a timestamp that
// two events share, and a transfer that names an account created after
// it.
func TestVerifyFindsTimestampsTheLedgerNeverAssigns(t *testing.T) {
	three, four := ledger.IDFromUint64(3), ledger.IDFromUint64(4)
	account := func(id ledger.ID, ts uint64) ledger.Account {
		return ledger.Account{ID: id, Ledger: 978, Code: 1, Timestamp: ts}
	}
	insert := func(a ...ledger.Account) func(*testing.T, ledger.Store) {
		return func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error { return tx.InsertAccounts(a) })
		}
	}
	late := ledger.TimestampLimit - 5e9
	tests := []struct {
		name  string
		write func(*testing.T, ledger.Store)
		want  func(ts10 uint64) []ledger.Problem
	}{
		{"transfer_above_limit", func(t *testing.T, s ledger.Store) {
			tr := transfer(20, 1)
			tr.Timestamp = ledger.TimestampLimit + 1
			postPlain(t, s, tr)
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("timestamp %d above the limit", ledger.TimestampLimit+1)},
				lastAboveTheLimit}
		}},
		{"expiry_above_limit", func(t *testing.T, s ledger.Store) {
			p := closingHold(20, 0, late)
			p.Timeout = 10
			tamper(t, s, func(tx ledger.Tx) error { return hold(tx, []ledger.Transfer{p}, ledger.PendingActive) })
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("expires at %d, past the timestamp limit", late+10e9)}}
		}},
		{"expiry_past_uint64", func(t *testing.T, s ledger.Store) {
			p := closingHold(20, 0, math.MaxUint64-10e9+1)
			p.Timeout = 10
			tamper(t, s, func(tx ledger.Tx) error { return hold(tx, []ledger.Transfer{p}, ledger.PendingActive) })
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("timestamp %d above the limit", uint64(math.MaxUint64-10e9+1))},
				{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("expires at %d, past the timestamp limit", uint64(math.MaxUint64))},
				{Detail: fmt.Sprintf("last timestamp %d above the limit", uint64(math.MaxUint64-10e9+1))}}
		}},
		{"account_above_limit", insert(account(three, ledger.TimestampLimit+1)), func(uint64) []ledger.Problem {
			return []ledger.Problem{{AccountID: three, Detail: fmt.Sprintf("timestamp %d above the limit", ledger.TimestampLimit+1)},
				lastAboveTheLimit}
		}},
		{"account_zero", insert(account(three, 0)), func(uint64) []ledger.Problem {
			return []ledger.Problem{{AccountID: three, Detail: "timestamp zero"}}
		}},
		{"accounts_shared", insert(account(three, 1<<62), account(four, 1<<62)), func(uint64) []ledger.Problem {
			return []ledger.Problem{{AccountID: four, Detail: fmt.Sprintf("timestamp %d also that of account %v", uint64(1<<62), three)}}
		}},
		{"account_and_transfer_shared", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				got, err := tx.Transfers([]ledger.ID{ledger.IDFromUint64(10)})
				if err != nil {
					return err
				}
				return tx.InsertAccounts([]ledger.Account{account(three, got[0].Timestamp)})
			})
		}, func(ts10 uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: ledger.IDFromUint64(10), Detail: fmt.Sprintf("timestamp %d also that of account %v", ts10, three)}}
		}},
		{"account_after_transfer", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				a := account(three, 1<<62+1)
				a.DebitsPosted = 1
				if err := tx.InsertAccounts([]ledger.Account{a}); err != nil {
					return err
				}
				two, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(2)})
				if err != nil {
					return err
				}
				two[0].CreditsPosted++
				if err := tx.UpdateAccounts(two); err != nil {
					return err
				}
				tr := transfer(20, 1)
				tr.DebitAccountID, tr.Timestamp = three, 1<<62
				return tx.InsertTransfers([]ledger.Transfer{tr})
			})
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: ledger.IDFromUint64(20), Detail: fmt.Sprintf("names account %v, created at %d", three, uint64(1<<62+1))}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(10)})
			require.NoError(t, err)
			require.Len(t, got, 1)
			tt.write(t, s)
			assert.Equal(t, tt.want(got[0].Timestamp), verifyProblems(t, s))
		})
	}
}

// settle writes trs and the pending states of those that are pending
// (states, by ID, when given there, else active), sets the status of
// other pending transfers that states names, then sets every
// account's balances and AccountClosed flag to what the stored transfers
// and pending states give, so that the problems Verify finds are those
// of the rows written.
func settle(t *testing.T, s ledger.Store, trs []ledger.Transfer, states map[ledger.ID]ledger.PendingStatus) {
	t.Helper()
	tamper(t, s, func(tx ledger.Tx) error {
		var ps, upd []ledger.Pending
		written := map[ledger.ID]bool{}
		for _, tr := range trs {
			written[tr.ID] = true
			if tr.Flags&ledger.TransferPending != 0 {
				st, ok := states[tr.ID]
				if !ok {
					st = ledger.PendingActive
				}
				ps = append(ps, ledger.Pending{ID: tr.ID, Status: st, ExpiresAt: tr.ExpiresAt(), Timestamp: tr.Timestamp})
			}
		}
		for id, st := range states {
			if !written[id] {
				upd = append(upd, ledger.Pending{ID: id, Status: st})
			}
		}
		if err := tx.InsertTransfers(trs); err != nil {
			return err
		}
		if len(upd) > 0 {
			if err := tx.UpdatePending(upd); err != nil {
				return err
			}
		}
		if len(ps) == 0 {
			return nil
		}
		return tx.InsertPending(ps)
	})
	tamper(t, s, func(tx ledger.Tx) error {
		status := map[ledger.ID]ledger.PendingStatus{}
		if err := tx.ForEachPending(func(p ledger.Pending) error { status[p.ID] = p.Status; return nil }); err != nil {
			return err
		}
		accounts := map[ledger.ID]*ledger.Account{}
		var ids []ledger.ID
		err := tx.ForEachAccount(func(a ledger.Account) error {
			a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted = 0, 0, 0, 0
			a.Flags &^= ledger.AccountClosed
			accounts[a.ID] = &a
			ids = append(ids, a.ID)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.ForEachTransfer(func(tr ledger.Transfer) error {
			dr, cr := accounts[tr.DebitAccountID], accounts[tr.CreditAccountID]
			switch {
			case tr.Flags&(ledger.TransferPostPendingTransfer|ledger.TransferVoidPendingTransfer) != 0:
				if tr.Flags&ledger.TransferPostPendingTransfer != 0 {
					dr.DebitsPosted += tr.Amount
					cr.CreditsPosted += tr.Amount
				}
			case tr.Flags&ledger.TransferPending != 0:
				if status[tr.ID] == ledger.PendingActive {
					dr.DebitsPending += tr.Amount
					cr.CreditsPending += tr.Amount
					if tr.Flags&ledger.TransferClosingDebit != 0 {
						dr.Flags |= ledger.AccountClosed
					}
					if tr.Flags&ledger.TransferClosingCredit != 0 {
						cr.Flags |= ledger.AccountClosed
					}
				}
			default:
				dr.DebitsPosted += tr.Amount
				cr.CreditsPosted += tr.Amount
			}
			return nil
		})
		if err != nil {
			return err
		}
		var all []ledger.Account
		for _, id := range ids {
			all = append(all, *accounts[id])
		}
		return tx.UpdateAccounts(all)
	})
}

// TestVerifyFindsTransferOfClosedAccount checks that Verify finds a
// transfer that names an account while a pending transfer closes it,
// before that one is voided or expires, which the ledger refuses
// (debit_account_already_closed, credit_account_already_closed), and
// passes a void, which the ledger makes on a closed account, and
// transfers made once the account is open again.
func TestVerifyFindsTransferOfClosedAccount(t *testing.T) {
	const ts = 1 << 62
	closer := func(flags ledger.TransferFlags, timeout uint32) ledger.Transfer {
		p := closingHold(20, flags, ts)
		p.Timeout = timeout
		return p
	}
	at := func(tr ledger.Transfer, flags ledger.TransferFlags, pending uint64, after uint64) ledger.Transfer {
		tr.Flags, tr.Timestamp = flags, ts+after
		if pending != 0 {
			tr.PendingID = ledger.IDFromUint64(pending)
		}
		return tr
	}
	post, void, pending := ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer, ledger.TransferPending
	closedBy := func(id, account uint64) []ledger.Problem {
		return []ledger.Problem{{TransferID: ledger.IDFromUint64(id),
			Detail: fmt.Sprintf("names account %v, closed by %v", ledger.IDFromUint64(account), ledger.IDFromUint64(20))}}
	}
	reversed := transfer(21, 1)
	reversed.DebitAccountID, reversed.CreditAccountID = reversed.CreditAccountID, reversed.DebitAccountID
	tests := []struct {
		name   string
		trs    []ledger.Transfer
		states map[ledger.ID]ledger.PendingStatus
		want   []ledger.Problem
	}{
		{"single_phase_debit", []ledger.Transfer{closer(ledger.TransferClosingDebit, 0), at(transfer(21, 1), 0, 0, 1)}, nil,
			closedBy(21, 1)},
		{"single_phase_credit_side", []ledger.Transfer{closer(ledger.TransferClosingCredit, 0), at(reversed, 0, 0, 1)}, nil,
			closedBy(21, 2)},
		{"pending", []ledger.Transfer{closer(ledger.TransferClosingDebit, 0), at(transfer(21, 1), pending, 0, 1)}, nil,
			closedBy(21, 1)},
		{"post_of_other_hold", []ledger.Transfer{closer(ledger.TransferClosingDebit, 0), at(transfer(21, 4), post, 11, 1)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(11): ledger.PendingPosted}, closedBy(21, 1)},
		{"before_expiry", []ledger.Transfer{closer(ledger.TransferClosingDebit, 1), at(transfer(21, 1), 0, 0, 1e9-1)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(20): ledger.PendingExpired}, closedBy(21, 1)},
		{"void_of_other_hold", []ledger.Transfer{closer(ledger.TransferClosingDebit, 0), at(transfer(21, 4), void, 11, 1)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(11): ledger.PendingVoided}, nil},
		{"after_void", []ledger.Transfer{closer(ledger.TransferClosingDebit, 0), at(transfer(21, 3), void, 20, 1), at(transfer(22, 1), 0, 0, 2)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(20): ledger.PendingVoided}, nil},
		{"at_expiry", []ledger.Transfer{closer(ledger.TransferClosingDebit, 1), at(transfer(21, 1), 0, 0, 1e9)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(20): ledger.PendingExpired}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			settle(t, s, tt.trs, tt.states)
			assertVerify(t, l, tt.want)
		})
	}
}

// stamped returns a transfer of amount from dr to cr with flags, stamped
// after verifySetup's transfers, at 2^62 plus after.
func stamped(id uint64, dr, cr ledger.ID, amount uint64, flags ledger.TransferFlags, after uint64) ledger.Transfer {
	t := transfer(id, amount)
	t.DebitAccountID, t.CreditAccountID, t.Flags, t.Timestamp = dr, cr, flags, 1<<62+after
	return t
}

// TestVerifyFindsLimitBrokenWhenTransferWasCreated checks that Verify
// finds a transfer that took an account with a limit flag past its limit
// when it was created (exceeds_credits, exceeds_debits), though later
// transfers brought the account back within it, counting a hold until
// its post or void or its expiry, and passes transfers that kept within
// it.
func TestVerifyFindsLimitBrokenWhenTransferWasCreated(t *testing.T) {
	one, two := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	three, four := ledger.IDFromUint64(3), ledger.IDFromUint64(4) // debits, credits must not exceed the other side
	pending := func(id uint64, dr, cr ledger.ID, amount uint64, timeout uint32, after uint64) ledger.Transfer {
		p := stamped(id, dr, cr, amount, ledger.TransferPending, after)
		p.Timeout = timeout
		return p
	}
	void := func(id, p uint64, dr ledger.ID, amount, after uint64) ledger.Transfer {
		v := stamped(id, dr, two, amount, ledger.TransferVoidPendingTransfer, after)
		v.PendingID = ledger.IDFromUint64(p)
		return v
	}
	credit := stamped(20, one, three, 5, 0, 0) // account 3 may then owe 5
	exceeds := func(id uint64, to, past uint64) []ledger.Problem {
		return []ledger.Problem{{TransferID: ledger.IDFromUint64(id),
			Detail: fmt.Sprintf("takes the debits of account %v to %d, past its credits %d", three, to, past)}}
	}
	tests := []struct {
		name   string
		trs    []ledger.Transfer
		states map[ledger.ID]ledger.PendingStatus
		want   []ledger.Problem
	}{
		{"debits_before_credit", []ledger.Transfer{stamped(21, three, two, 5, 0, 0), stamped(22, one, three, 5, 0, 1)}, nil,
			exceeds(21, 5, 0)},
		{"credits_before_debit", []ledger.Transfer{stamped(21, one, four, 5, 0, 0), stamped(22, four, two, 5, 0, 1)}, nil,
			[]ledger.Problem{{TransferID: ledger.IDFromUint64(21),
				Detail: fmt.Sprintf("takes the credits of account %v to 5, past its debits 0", four)}}},
		{"pending_before_credit", []ledger.Transfer{pending(21, three, two, 5, 0, 0), void(22, 21, three, 5, 1), stamped(20, one, three, 5, 0, 2)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(21): ledger.PendingVoided}, exceeds(21, 5, 0)},
		{"held", []ledger.Transfer{credit, pending(21, three, two, 5, 1, 1), stamped(22, three, two, 1, 0, 1e9)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(21): ledger.PendingExpired}, exceeds(22, 6, 5)},
		// Account 1 holds 4 and has 5 posted (verifySetup).
		{"debits_above_limit_while_held", []ledger.Transfer{pending(21, one, two, ledger.AmountLimit-9, 0, 0),
			stamped(22, one, two, 1, 0, 1), void(23, 21, one, ledger.AmountLimit-9, 2)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(21): ledger.PendingVoided}, []ledger.Problem{
				{TransferID: ledger.IDFromUint64(22), Detail: fmt.Sprintf("takes the debits of account %v to %d, above the limit", one, ledger.AmountLimit+1)},
				{TransferID: ledger.IDFromUint64(22), Detail: fmt.Sprintf("takes the credits of account %v to %d, above the limit", two, ledger.AmountLimit+1)}}},
		// A pending credit counts only once posted.
		{"debits_past_pending_credit", []ledger.Transfer{pending(20, one, three, 5, 0, 0), stamped(21, three, two, 5, 0, 1)}, nil,
			append(exceeds(21, 5, 0), ledger.Problem{AccountID: three, Detail: "debits 5 exceed credits 0"})},
		{"credits_past_pending_debit", []ledger.Transfer{pending(20, four, two, 5, 0, 0), stamped(21, one, four, 5, 0, 1)}, nil,
			[]ledger.Problem{{TransferID: ledger.IDFromUint64(21), Detail: fmt.Sprintf("takes the credits of account %v to 5, past its debits 0", four)},
				{AccountID: four, Detail: "credits 5 exceed debits 0"}}},
		{"within", []ledger.Transfer{credit, stamped(21, three, two, 5, 0, 1)}, nil, nil},
		{"after_expiry", []ledger.Transfer{credit, pending(21, three, two, 5, 1, 1), stamped(22, three, two, 1, 0, 1e9+1)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(21): ledger.PendingExpired}, nil},
		{"after_void", []ledger.Transfer{credit, pending(21, three, two, 5, 0, 1), void(22, 21, three, 5, 2), stamped(23, three, two, 5, 0, 3)},
			map[ledger.ID]ledger.PendingStatus{ledger.IDFromUint64(21): ledger.PendingVoided}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			createAccounts(t, l, []ledger.Account{
				{ID: three, Ledger: 978, Code: 1, Flags: ledger.AccountDebitsMustNotExceedCredits},
				{ID: four, Ledger: 978, Code: 1, Flags: ledger.AccountCreditsMustNotExceedDebits},
			})
			settle(t, s, tt.trs, tt.states)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsBalancingTransferPastTheBalance checks that Verify finds
// a balancing transfer that moved more than its account's balance allowed
// when it was created (the ledger moves at most that much), whether the
// account has a limit flag or not, and passes one that moved at most that.
func TestVerifyFindsBalancingTransferPastTheBalance(t *testing.T) {
	one, two, three := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)
	credit := stamped(20, one, three, 5, 0, 0) // account 3 has 5 in credit
	debit := stamped(20, three, two, 5, 0, 0)  // account 3 has 5 in debit
	tests := []struct {
		name string
		trs  []ledger.Transfer
		want []ledger.Problem
	}{
		{"debit_within", []ledger.Transfer{credit, stamped(21, three, two, 5, ledger.TransferBalancingDebit, 1)}, nil},
		{"debit_zero_past", []ledger.Transfer{debit, stamped(21, three, two, 0, ledger.TransferBalancingDebit, 1)}, nil},
		{"pending_debit_within", []ledger.Transfer{credit, stamped(21, three, two, 5, ledger.TransferBalancingDebit|ledger.TransferPending, 1)}, nil},
		{"debit_past", []ledger.Transfer{credit, stamped(21, three, two, 6, ledger.TransferBalancingDebit, 1)}, []ledger.Problem{{
			TransferID: ledger.IDFromUint64(21), Detail: fmt.Sprintf("takes the debits of account %v to 6, past its credits 5", three)}}},
		{"credit_within", []ledger.Transfer{debit, stamped(21, one, three, 5, ledger.TransferBalancingCredit, 1)}, nil},
		{"credit_past", []ledger.Transfer{debit, stamped(21, one, three, 6, ledger.TransferBalancingCredit, 1)}, []ledger.Problem{{
			TransferID: ledger.IDFromUint64(21), Detail: fmt.Sprintf("takes the credits of account %v to 6, past its debits 5", three)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			createAccounts(t, l, []ledger.Account{{ID: three, Ledger: 978, Code: 1}})
			settle(t, s, tt.trs, nil)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsTransferRecordedAsFailed checks that Verify finds a
// stored transfer whose ID is also recorded as failed: the ledger records
// the ID of a transfer that it did not create, and creates none whose ID
// it recorded.
func TestVerifyFindsTransferRecordedAsFailed(t *testing.T) {
	l, s := verifySetup(t)
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertFailed([]ledger.FailedTransfer{
			{ID: ledger.IDFromUint64(11), Result: ledger.TransferExceedsCredits, Timestamp: 1 << 62},
			{ID: ledger.IDFromUint64(10), Result: ledger.TransferDebitAccountNotFound, Timestamp: 1<<62 + 1},
			{ID: ledger.IDFromUint64(30), Result: ledger.TransferDebitAccountNotFound, Timestamp: 1<<62 + 2},
		})
	})
	assertVerify(t, l, []ledger.Problem{
		{TransferID: ledger.IDFromUint64(10), Detail: "also recorded as failed with debit_account_not_found"},
		{TransferID: ledger.IDFromUint64(11), Detail: "also recorded as failed with exceeds_credits"},
	})
}

// TestVerifyFindsFailedRecordFieldsTheLedgerNeverWrites checks that
// Verify finds a failed-transfer record with a reserved ID, a result
// that is not transient (the ledger records only those), or a timestamp
// that is zero or above TimestampLimit, and passes the records the ledger
// wrote.
func TestVerifyFindsFailedRecordFieldsTheLedgerNeverWrites(t *testing.T) {
	failed := func(id ledger.ID, r ledger.CreateTransferResult, ts uint64) ledger.FailedTransfer {
		return ledger.FailedTransfer{ID: id, Result: r, Timestamp: ts}
	}
	thirty := ledger.IDFromUint64(30)
	tests := []struct {
		name  string
		write func(*testing.T, *ledger.Ledger, ledger.Store)
		want  []ledger.Problem
	}{
		{"written_by_the_ledger", func(t *testing.T, l *ledger.Ledger, _ ledger.Store) {
			missing := transfer(20, 1)
			missing.DebitAccountID = ledger.IDFromUint64(9)
			post := transfer(21, 1)
			post.Flags, post.PendingID = ledger.TransferPostPendingTransfer, ledger.IDFromUint64(99)
			chained := transfer(22, 1)
			chained.Flags = ledger.TransferLinked
			res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{missing, post, chained, missing})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferDebitAccountNotFound,
				ledger.TransferPendingTransferNotFound, ledger.TransferLinkedEventFailed, ledger.TransferIDAlreadyFailed}, res)
		}, nil},
		{"reserved_ids", func(t *testing.T, _ *ledger.Ledger, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertFailed([]ledger.FailedTransfer{
					failed(ledger.IDMax, ledger.TransferExceedsCredits, 1<<62),
					failed(ledger.ID{}, ledger.TransferExceedsCredits, 1<<62+1),
				})
			})
		}, []ledger.Problem{
			{Detail: fmt.Sprintf("failed-transfer record has reserved ID %v", ledger.ID{})},
			{TransferID: ledger.IDMax, Detail: fmt.Sprintf("failed-transfer record has reserved ID %v", ledger.IDMax)},
		}},
		{"results_not_transient", func(t *testing.T, _ *ledger.Ledger, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertFailed([]ledger.FailedTransfer{
					failed(ledger.IDFromUint64(31), ledger.TransferCreated, 1<<62),
					failed(ledger.IDFromUint64(32), ledger.TransferIDAlreadyFailed, 1<<62+1),
					failed(ledger.IDFromUint64(33), ledger.TransferPendingTransferExpired, 1<<62+2),
					failed(ledger.IDFromUint64(34), ledger.CreateTransferResult(200), 1<<62+3),
					failed(ledger.IDFromUint64(35), ledger.TransferCreditAccountAlreadyClosed, 1<<62+4),
				})
			})
		}, []ledger.Problem{
			{TransferID: ledger.IDFromUint64(31), Detail: "failed-transfer record has result created, not a transient one"},
			{TransferID: ledger.IDFromUint64(32), Detail: "failed-transfer record has result id_already_failed, not a transient one"},
			{TransferID: ledger.IDFromUint64(33), Detail: "failed-transfer record has result pending_transfer_expired, not a transient one"},
			{TransferID: ledger.IDFromUint64(34), Detail: "failed-transfer record has result CreateTransferResult(200), not a transient one"},
		}},
		{"timestamp_zero", func(t *testing.T, _ *ledger.Ledger, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertFailed([]ledger.FailedTransfer{failed(thirty, ledger.TransferExceedsDebits, 0)})
			})
		}, []ledger.Problem{{TransferID: thirty, Detail: "failed-transfer record has timestamp zero"}}},
		{"timestamp_above_limit", func(t *testing.T, _ *ledger.Ledger, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertFailed([]ledger.FailedTransfer{failed(thirty, ledger.TransferExceedsDebits, ledger.TimestampLimit+1)})
			})
		}, []ledger.Problem{{TransferID: thirty,
			Detail: fmt.Sprintf("failed-transfer record has timestamp %d above the limit", ledger.TimestampLimit+1)}, lastAboveTheLimit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			tt.write(t, l, s)
			assertVerify(t, l, tt.want)
		})
	}
}

// TestVerifyFindsFailedRecordSharingATimestamp checks that Verify finds a
// failed-transfer record whose timestamp is also that of an account, a
// transfer or another record (after the first by ID): the ledger assigns
// each event a timestamp of its own, and records a failed one at its own.
func TestVerifyFindsFailedRecordSharingATimestamp(t *testing.T) {
	one, ten := ledger.IDFromUint64(1), ledger.IDFromUint64(10)
	thirty, thirtyOne := ledger.IDFromUint64(30), ledger.IDFromUint64(31)
	insert := func(t *testing.T, s ledger.Store, f ...ledger.FailedTransfer) {
		tamper(t, s, func(tx ledger.Tx) error { return tx.InsertFailed(f) })
	}
	tests := []struct {
		name  string
		write func(t *testing.T, s ledger.Store, ts1, ts10 uint64)
		want  func(ts1, ts10 uint64) []ledger.Problem
	}{
		{"account", func(t *testing.T, s ledger.Store, ts1, _ uint64) {
			insert(t, s, ledger.FailedTransfer{ID: thirty, Result: ledger.TransferExceedsCredits, Timestamp: ts1})
		}, func(ts1, _ uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: thirty,
				Detail: fmt.Sprintf("failed-transfer record has timestamp %d, also that of account %v", ts1, one)}}
		}},
		{"transfer", func(t *testing.T, s ledger.Store, _, ts10 uint64) {
			insert(t, s, ledger.FailedTransfer{ID: thirty, Result: ledger.TransferExceedsCredits, Timestamp: ts10})
		}, func(_, ts10 uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: thirty,
				Detail: fmt.Sprintf("failed-transfer record has timestamp %d, also that of transfer %v", ts10, ten)}}
		}},
		{"record", func(t *testing.T, s ledger.Store, _, _ uint64) {
			insert(t, s, ledger.FailedTransfer{ID: thirtyOne, Result: ledger.TransferExceedsCredits, Timestamp: 1 << 62},
				ledger.FailedTransfer{ID: thirty, Result: ledger.TransferExceedsDebits, Timestamp: 1 << 62})
		}, func(uint64, uint64) []ledger.Problem {
			return []ledger.Problem{{TransferID: thirtyOne,
				Detail: fmt.Sprintf("failed-transfer record has timestamp %d, also that of failed-transfer record %v", uint64(1<<62), thirty)}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			accounts, err := l.LookupAccounts(context.Background(), []ledger.ID{one})
			require.NoError(t, err)
			require.Len(t, accounts, 1)
			transfers, err := l.LookupTransfers(context.Background(), []ledger.ID{ten})
			require.NoError(t, err)
			require.Len(t, transfers, 1)
			tt.write(t, s, accounts[0].Timestamp, transfers[0].Timestamp)
			assertVerify(t, l, tt.want(accounts[0].Timestamp, transfers[0].Timestamp))
		})
	}
}

// TestVerifyFindsBalanceHistoryUnlikeBalances checks that Verify finds an
// account with AccountHistory with a balance history row that its
// transfers do not give, whose last balance history row differs from its
// balances, or that transfers name without a row, where the ledger writes
// a row of the balances after every change of them, and passes the
// history the ledger wrote.
func TestVerifyFindsBalanceHistoryUnlikeBalances(t *testing.T) {
	three, four := ledger.IDFromUint64(3), ledger.IDFromUint64(4)
	tests := []struct {
		name  string
		write func(t *testing.T, s ledger.Store)
		want  func(ts uint64) []ledger.Problem // of the transfer to three at ts
	}{
		{"written_by_the_ledger", func(*testing.T, ledger.Store) {}, func(uint64) []ledger.Problem { return nil }},
		{"last_row_differs", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertBalances([]ledger.BalanceRow{{TransferID: ledger.IDFromUint64(20),
					AccountBalance: ledger.AccountBalance{AccountID: three, CreditsPosted: 6, Timestamp: 1 << 62}}})
			})
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{AccountID: three, Detail: fmt.Sprintf("balance history row at %d (no transfer of it) has dp=0 dpo=0 cp=0 cpo=6, which the release of no expired hold gives from dp=0 dpo=0 cp=0 cpo=5", uint64(1<<62))}}
		}},
		{"account_differs", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.UpdateAccounts([]ledger.Account{{ID: three, CreditsPosted: 6, Flags: ledger.AccountHistory}})
			})
		}, func(ts uint64) []ledger.Problem {
			return []ledger.Problem{
				{AccountID: three, Detail: "stored balances dp=0 dpo=0 cp=0 cpo=6, transfers give dp=0 dpo=0 cp=0 cpo=5"},
				{AccountID: three, Detail: fmt.Sprintf("last balance history row (at %d) has dp=0 dpo=0 cp=0 cpo=5, the account dp=0 dpo=0 cp=0 cpo=6", ts)},
				{Detail: "ledger 978: debits posted [0 10] differ from credits posted [0 11]"}}
		}},
		{"no_row", func(t *testing.T, s ledger.Store) {
			tamper(t, s, func(tx ledger.Tx) error {
				return tx.InsertAccounts([]ledger.Account{{ID: four, Ledger: 978, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1 << 62}})
			})
			settle(t, s, []ledger.Transfer{stamped(21, ledger.IDFromUint64(1), four, 0, 0, 1)}, nil)
		}, func(uint64) []ledger.Problem {
			return []ledger.Problem{{AccountID: four, Detail: "transfers name it, but it has no balance history row"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			ctx := context.Background()
			ares, err := l.CreateAccounts(ctx, []ledger.Account{{ID: three, Ledger: 978, Code: 1, Flags: ledger.AccountHistory}})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, ares)
			tr := transfer(20, 5)
			tr.CreditAccountID = three
			tres, err := l.CreateTransfers(ctx, []ledger.Transfer{tr})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, tres)
			got, err := l.LookupTransfers(ctx, []ledger.ID{tr.ID})
			require.NoError(t, err)
			require.Len(t, got, 1)
			tt.write(t, s)
			assertVerify(t, l, tt.want(got[0].Timestamp))
		})
	}
}

// lastTx reads last as the last timestamp.
type lastTx struct {
	ledger.ReadTx
	last uint64
}

func (tx lastTx) LastTimestamp() (uint64, error) { return tx.last, nil }

// TestVerifyFindsLastTimestampBehind: a last timestamp below a stored
// one, after which the ledger would assign that timestamp again, is a
// problem, the last one; one at the latest stored timestamp is not.
func TestVerifyFindsLastTimestampBehind(t *testing.T) {
	l, s := verifySetup(t)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(11)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	latest := got[0].Timestamp
	at := func(last uint64) altered {
		return altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return lastTx{tx, last} }}
	}
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", latest-1, latest)}},
		verifyProblems(t, at(latest-1)))
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp 0 below %d, a stored timestamp", latest)}},
		verifyProblems(t, at(0)))
	la, err := ledger.New(at(latest), ledger.Options{})
	require.NoError(t, err)
	defer la.Close()
	assertVerify(t, la, nil)
}

// TestVerifyFindsLastTimestampBehindFailed: the timestamp of a
// failed-transfer record counts among the stored ones, whatever its ID:
// a last timestamp below it is a problem.
func TestVerifyFindsLastTimestampBehindFailed(t *testing.T) {
	l, s := verifySetup(t)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(11)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	latest := got[0].Timestamp + 5
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertFailed([]ledger.FailedTransfer{{ID: ledger.IDFromUint64(12), Result: ledger.TransferExceedsCredits, Timestamp: latest}})
	})
	assertVerify(t, l, nil)
	behind := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return lastTx{tx, latest - 1} }}
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", latest-1, latest)}},
		verifyProblems(t, behind))
}

// setLastTimestamp records last as the last timestamp of s, as a writer
// other than the ledger may.
func setLastTimestamp(t *testing.T, s ledger.Store, last uint64) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return tx.SetLastTimestamp(last)
	}))
}

// lastAboveTheLimit is the problem of a last timestamp one past
// TimestampLimit, which tamper records after a row written there.
var lastAboveTheLimit = ledger.Problem{Detail: fmt.Sprintf("last timestamp %d above the limit", ledger.TimestampLimit+1)}

// TestVerifyFindsLastTimestampAboveTheLimit: a last timestamp above
// TimestampLimit, which the memory store takes from a writer other than
// the ledger (the SQL stores' column refuses it), after which the ledger
// fails every new event with ErrTimestampLimit, is a problem; one at the
// limit is not.
func TestVerifyFindsLastTimestampAboveTheLimit(t *testing.T) {
	l, s := verifySetup(t)
	setLastTimestamp(t, s, ledger.TimestampLimit)
	assertVerify(t, l, nil)
	setLastTimestamp(t, s, ledger.TimestampLimit+1)
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(30, 1)})
	require.ErrorIs(t, err, ledger.ErrTimestampLimit)
	assert.Equal(t, []ledger.Problem{lastAboveTheLimit}, verifyProblems(t, s))
	setLastTimestamp(t, s, math.MaxUint64)
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d above the limit", uint64(math.MaxUint64))}},
		verifyProblems(t, s))
}

// TestTransferExpiresAt checks ExpiresAt: zero for a transfer that never
// expires, the timestamp plus the timeout otherwise, and math.MaxUint64,
// not a sum that wraps, for a stored timestamp so far past TimestampLimit
// that the sum passes 2^64 - 1 (a wrapped sum could even be 0, never).
func TestTransferExpiresAt(t *testing.T) {
	tests := []struct {
		name string
		tr   ledger.Transfer
		want uint64
	}{
		{"not_pending", ledger.Transfer{Timeout: 10, Timestamp: 5}, 0},
		{"no_timeout", ledger.Transfer{Flags: ledger.TransferPending, Timestamp: 5}, 0},
		{"timeout", ledger.Transfer{Flags: ledger.TransferPending, Timeout: 10, Timestamp: 5}, 5 + 10e9},
		{"largest_the_ledger_assigns", ledger.Transfer{Flags: ledger.TransferPending, Timeout: math.MaxUint32, Timestamp: ledger.TimestampLimit},
			ledger.TimestampLimit + math.MaxUint32*1e9},
		{"at_uint64_max", ledger.Transfer{Flags: ledger.TransferPending, Timeout: 10, Timestamp: math.MaxUint64 - 10e9}, math.MaxUint64},
		{"wraps_to_zero", ledger.Transfer{Flags: ledger.TransferPending, Timeout: 10, Timestamp: math.MaxUint64 - 10e9 + 1}, math.MaxUint64},
		{"wraps", ledger.Transfer{Flags: ledger.TransferPending, Timeout: math.MaxUint32, Timestamp: math.MaxUint64}, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.tr.ExpiresAt())
		})
	}
}

// TestVerifyFindsLastTimestampBehindAnAccount: the timestamp of an
// account counts among the stored ones, though transfers are read after
// it: a last timestamp below that of an account created after every
// transfer is a problem.
func TestVerifyFindsLastTimestampBehindAnAccount(t *testing.T) {
	l, s := verifySetup(t)
	ctx := context.Background()
	createAccounts(t, l, []ledger.Account{{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1}})
	got, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(3)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	latest := got[0].Timestamp
	behind := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return lastTx{tx, latest - 1} }}
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", latest-1, latest)}},
		verifyProblems(t, behind))
}

// TestVerifyPassesTimestampsAtTheLimit checks that Verify passes an
// account and a failed-transfer record stamped TimestampLimit, the last
// timestamp the ledger assigns.
func TestVerifyPassesTimestampsAtTheLimit(t *testing.T) {
	for name, write := range map[string]func(tx ledger.Tx) error{
		"account": func(tx ledger.Tx) error {
			return tx.InsertAccounts([]ledger.Account{{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1, Timestamp: ledger.TimestampLimit}})
		},
		"failed": func(tx ledger.Tx) error {
			return tx.InsertFailed([]ledger.FailedTransfer{{ID: ledger.IDFromUint64(30), Result: ledger.TransferExceedsCredits,
				Timestamp: ledger.TimestampLimit}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			l, s := verifySetup(t)
			tamper(t, s, write)
			assertVerify(t, l, nil)
		})
	}
}

// TestVerifyFindsClosedFlagOfAccountNamedOnEitherSide checks that Verify
// finds the AccountClosed flag, without an active pending transfer that
// closes it, on an account that transfers only debit (1) or only credit
// (2).
func TestVerifyFindsClosedFlagOfAccountNamedOnEitherSide(t *testing.T) {
	for _, id := range []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)} {
		t.Run(id.String(), func(t *testing.T) {
			_, s := verifySetup(t)
			tamper(t, s, func(tx ledger.Tx) error { return hold(tx, nil, ledger.PendingActive, id) })
			assert.Equal(t, []ledger.Problem{{AccountID: id,
				Detail: "flagged closed, but no active pending transfer closes it and transfers name it"}}, verifyProblems(t, s))
		})
	}
}

// TestVerifyFindsLedgerUnlikeOneAccount checks that Verify finds a
// transfer whose ledger differs from that of its debit account alone, or
// of its credit account alone.
func TestVerifyFindsLedgerUnlikeOneAccount(t *testing.T) {
	one, two, three := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)
	l, s := verifySetup(t)
	createAccounts(t, l, []ledger.Account{{ID: three, Ledger: 840, Code: 1}})
	settle(t, s, []ledger.Transfer{stamped(20, one, three, 1, 0, 0), stamped(21, three, two, 1, 0, 1)}, nil)
	assert.Equal(t, []ledger.Problem{
		{TransferID: ledger.IDFromUint64(20), Detail: "ledger 978 differs from its accounts'"},
		{TransferID: ledger.IDFromUint64(21), Detail: "ledger 978 differs from its accounts'"}}, verifyProblems(t, s))
}

// TestVerifyFindsResolutionWithBothFlagsOnClosedAccount checks that
// Verify takes a transfer with both the post and the void flag for a post
// (which the ledger refuses), not a void: one on an account that another
// pending transfer closes is reported as such.
func TestVerifyFindsResolutionWithBothFlagsOnClosedAccount(t *testing.T) {
	one := ledger.IDFromUint64(1)
	_, s := verifySetup(t)
	closing := closingHold(20, ledger.TransferClosingDebit, 1<<62)
	r := stamped(21, one, ledger.IDFromUint64(2), 4, ledger.TransferPostPendingTransfer|ledger.TransferVoidPendingTransfer, 1)
	r.PendingID = ledger.IDFromUint64(11)
	settle(t, s, []ledger.Transfer{closing, r}, map[ledger.ID]ledger.PendingStatus{r.PendingID: ledger.PendingPosted})
	assert.Equal(t, []ledger.Problem{
		{TransferID: r.ID, Detail: fmt.Sprintf("names account %v, closed by %v", one, closing.ID)},
		{TransferID: r.ID, Detail: fmt.Sprintf("flags %#x are mutually exclusive", r.Flags)}}, verifyProblems(t, s))
}

// TestVerifyFindsSameAccountTransferAtItsCreation checks that Verify
// reports once that a transfer of one account to itself names it at the
// timestamp of its creation.
func TestVerifyFindsSameAccountTransferAtItsCreation(t *testing.T) {
	one, ten := ledger.IDFromUint64(1), ledger.IDFromUint64(10)
	l, s := verifySetup(t)
	got, err := l.LookupAccounts(context.Background(), []ledger.ID{one})
	require.NoError(t, err)
	require.Len(t, got, 1)
	ts := got[0].Timestamp
	rewrite := func(tx ledger.ReadTx) ledger.ReadTx {
		return rewriteTx{tx, ten, func(t *ledger.Transfer) { t.CreditAccountID, t.Timestamp = one, ts }}
	}
	assert.Equal(t, []ledger.Problem{
		{TransferID: ten, Detail: fmt.Sprintf("timestamp %d also that of account %v", ts, one)},
		{TransferID: ten, Detail: fmt.Sprintf("names account %v, created at %d", one, ts)},
		{TransferID: ten, Detail: "debits and credits the same account"},
		{AccountID: one, Detail: "stored balances dp=4 dpo=5 cp=0 cpo=0, transfers give dp=4 dpo=5 cp=0 cpo=5"},
		{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=4 cpo=5, transfers give dp=0 dpo=0 cp=4 cpo=0"}},
		verifyProblems(t, altered{s, rewrite}))
}

// TestVerifyFindsFailedRecordAtTheTimestampOfTransfersOutOfOrder checks
// that Verify finds a failed-transfer record at the timestamp of a
// transfer read out of timestamp order.
func TestVerifyFindsFailedRecordAtTheTimestampOfTransfersOutOfOrder(t *testing.T) {
	l, s := verifySetup(t)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(10), ledger.IDFromUint64(11)})
	require.NoError(t, err)
	require.Len(t, got, 2)
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertFailed([]ledger.FailedTransfer{{ID: ledger.IDFromUint64(30), Result: ledger.TransferExceedsCredits, Timestamp: got[0].Timestamp}})
	})
	reversed := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return restampTx{ReadTx: tx} }}
	assert.Equal(t, []ledger.Problem{
		{TransferID: got[0].ID, Detail: fmt.Sprintf("timestamp %d not after %d", got[0].Timestamp, got[1].Timestamp)},
		{TransferID: ledger.IDFromUint64(30), Detail: fmt.Sprintf("failed-transfer record has timestamp %d, also that of transfer %v",
			got[0].Timestamp, got[0].ID)}}, verifyProblems(t, reversed))
}

// TestVerifyFindsLedgerSumsPastOneWord checks that Verify sums the
// balances of a ledger in 128 bits: debits pending of three accounts at
// AmountLimit, whose sum passes 2^64, differ from credits pending equal to
// that sum's low 64 bits.
func TestVerifyFindsLedgerSumsPastOneWord(t *testing.T) {
	s := memory.New()
	limit := ledger.AmountLimit
	low := 3 * limit // wraps: 2^63 - 3
	var accounts []ledger.Account
	for i := range uint64(4) {
		a := ledger.Account{ID: ledger.IDFromUint64(i + 1), Ledger: 978, Code: 1, Timestamp: i + 1, DebitsPending: ledger.AmountLimit}
		if i == 3 {
			a.DebitsPending, a.CreditsPending = 0, low
		}
		accounts = append(accounts, a)
	}
	tamper(t, s, func(tx ledger.Tx) error { return tx.InsertAccounts(accounts) })
	var want []ledger.Problem
	for _, a := range accounts {
		want = append(want, ledger.Problem{AccountID: a.ID, Detail: fmt.Sprintf("stored balances dp=%d dpo=0 cp=%d cpo=0, transfers give dp=0 dpo=0 cp=0 cpo=0",
			a.DebitsPending, a.CreditsPending)})
	}
	want = append(want, ledger.Problem{Detail: fmt.Sprintf("ledger 978: debits pending [1 %d] differ from credits pending [0 %d]",
		low, low)})
	assert.Equal(t, want, verifyProblems(t, s))
}
