package ledger

import (
	"context"
	"fmt"
	"slices"
)

// LookupAccounts returns the accounts with the given IDs, in the order of
// ids; IDs without an account are left out (TigerBeetle's rule).
func (l *Ledger) LookupAccounts(ctx context.Context, ids []ID) ([]Account, error) {
	if len(ids) > BatchMax {
		return nil, fmt.Errorf("%w: %d ids, at most %d", ErrBatchTooLarge, len(ids), BatchMax)
	}
	var found []Account
	err := l.store.View(ctx, func(tx ReadTx) error {
		var err error
		found, err = tx.Accounts(sortUnique(slices.Clone(ids)))
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[ID]int, len(found))
	for i := range found {
		byID[found[i].ID] = i
	}
	out := make([]Account, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
		}
	}
	return out, nil
}

// LookupTransfers returns the transfers with the given IDs, in the order of
// ids; IDs without a transfer are left out.
func (l *Ledger) LookupTransfers(ctx context.Context, ids []ID) ([]Transfer, error) {
	if len(ids) > BatchMax {
		return nil, fmt.Errorf("%w: %d ids, at most %d", ErrBatchTooLarge, len(ids), BatchMax)
	}
	var found []Transfer
	err := l.store.View(ctx, func(tx ReadTx) error {
		var err error
		found, err = tx.Transfers(sortUnique(slices.Clone(ids)))
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[ID]int, len(found))
	for i := range found {
		byID[found[i].ID] = i
	}
	out := make([]Transfer, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
		}
	}
	return out, nil
}

// normalize returns the filter a store gets, or false when f selects
// nothing (no side flag, an invalid account ID, Limit <= 0 or an empty
// time range).
func normalize(f AccountFilter) (AccountFilter, bool) {
	if !f.AccountID.Valid() || f.Limit <= 0 || f.Flags&(AccountFilterDebits|AccountFilterCredits) == 0 {
		return f, false
	}
	f.Limit = min(f.Limit, BatchMax)
	if f.TimestampMax == 0 || f.TimestampMax > TimestampLimit {
		f.TimestampMax = TimestampLimit
	}
	if f.TimestampMin > f.TimestampMax {
		return f, false
	}
	return f, true
}

// GetAccountTransfers returns the transfers of f.AccountID that match f, in
// time order (newest first with AccountFilterReversed), at most f.Limit. It
// returns an empty slice for a filter that selects nothing.
func (l *Ledger) GetAccountTransfers(ctx context.Context, f AccountFilter) ([]Transfer, error) {
	f, ok := normalize(f)
	if !ok {
		return []Transfer{}, nil
	}
	var out []Transfer
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := tx.AccountTransfers(f)
		out = slices.Clone(found) // the store may reuse found
		return err
	})
	if out == nil && err == nil {
		out = []Transfer{}
	}
	return out, err
}

// GetAccountBalances returns the balance history of an account created with
// AccountHistory: its balances after each change, in time order (newest
// first with AccountFilterReversed), at most f.Limit, within the
// timestamp range of f. The user data and code fields of f are not used.
func (l *Ledger) GetAccountBalances(ctx context.Context, f AccountFilter) ([]AccountBalance, error) {
	f, ok := normalize(f)
	if !ok {
		return []AccountBalance{}, nil
	}
	var out []AccountBalance
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := tx.AccountBalances(f)
		out = slices.Clone(found)
		return err
	})
	if out == nil && err == nil {
		out = []AccountBalance{}
	}
	return out, err
}
