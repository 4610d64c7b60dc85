package ledger

import (
	"context"
	"fmt"
	"slices"
)

// LookupAccounts returns the accounts with the given IDs, in the order of
// ids; IDs without an account are left out (TigerBeetle's rule), and an
// ID given twice gives its account twice. It fails with ErrBatchTooLarge
// beyond BatchMax IDs, ErrClosed after Close, or with the store's error.
func (l *Ledger) LookupAccounts(ctx context.Context, ids []ID) ([]Account, error) {
	return lookup(ctx, l, ids, ReadTx.Accounts, func(a *Account) ID { return a.ID })
}

// LookupTransfers returns the transfers with the given IDs, in the order of
// ids; IDs without a transfer are left out, and an ID given twice gives
// its transfer twice. It fails as LookupAccounts does.
func (l *Ledger) LookupTransfers(ctx context.Context, ids []ID) ([]Transfer, error) {
	return lookup(ctx, l, ids, ReadTx.Transfers, func(t *Transfer) ID { return t.ID })
}

// lookup reads the rows with the given IDs through read and returns them in
// the order of ids, copied out of the store's transaction (the store may
// reuse the slice read returns once it ends).
func lookup[T any](ctx context.Context, l *Ledger, ids []ID, read func(ReadTx, []ID) ([]T, error), id func(*T) ID) ([]T, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if len(ids) > BatchMax {
		return nil, fmt.Errorf("%w: %d ids, at most %d", ErrBatchTooLarge, len(ids), BatchMax)
	}
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	var out []T
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := read(tx, sortUnique(slices.Clone(ids)))
		if err != nil {
			return err
		}
		byID := make(map[ID]int, len(found))
		for i := range found {
			byID[id(&found[i])] = i
		}
		out = make([]T, 0, len(found))
		for _, v := range ids {
			if i, ok := byID[v]; ok {
				out = append(out, found[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// normalize returns the filter a store gets, or false when f selects
// nothing: TigerBeetle's invalid filters (no side flag, an unknown flag, an
// invalid account ID, Limit <= 0, a timestamp bound above TimestampLimit)
// and an empty time range.
func normalize(f AccountFilter) (AccountFilter, bool) {
	if !f.AccountID.Valid() || f.Limit <= 0 || f.Flags&(AccountFilterDebits|AccountFilterCredits) == 0 ||
		f.Flags&^accountFilterKnownFlags != 0 || f.TimestampMin > TimestampLimit || f.TimestampMax > TimestampLimit {
		return f, false
	}
	f.Limit = min(f.Limit, BatchMax)
	if f.TimestampMax == 0 {
		f.TimestampMax = TimestampLimit
	}
	if f.TimestampMin > f.TimestampMax {
		return f, false
	}
	return f, true
}

// GetAccountTransfers returns the transfers of f.AccountID that match f, in
// time order (newest first with AccountFilterReversed), at most f.Limit. It
// returns an empty slice for a filter that selects nothing, and, as
// TigerBeetle does, for an invalid one: an account ID of zero or IDMax, no
// side flag, a flag this package does not define, a Limit of zero or less,
// or a timestamp bound above TimestampLimit. It fails with ErrClosed after
// Close, or with the store's error.
func (l *Ledger) GetAccountTransfers(ctx context.Context, f AccountFilter) ([]Transfer, error) {
	return filter(ctx, l, f, ReadTx.AccountTransfers)
}

// GetAccountBalances returns the balance history of an account created with
// AccountHistory: its balances after each change, in time order (newest
// first with AccountFilterReversed), at most f.Limit. As in TigerBeetle, a
// balance is returned when the transfer that changed it, the one with the
// same timestamp, matches f as in GetAccountTransfers (side, user data,
// code, time range); with both side flags, every balance matches the side
// (ReadTx.AccountBalances). The release of an expired pending transfer also
// changes balances here (TigerBeetle records no history for it): that
// balance matches f by the pending transfer (a release that a SQL store
// wrote before its balance-history migration 0002 names no transfer and
// matches every filter). Invalid filters select nothing, and calls fail,
// as in GetAccountTransfers.
func (l *Ledger) GetAccountBalances(ctx context.Context, f AccountFilter) ([]AccountBalance, error) {
	return filter(ctx, l, f, ReadTx.AccountBalances)
}

// filter runs read with f normalized, and returns its rows copied out of
// the store's transaction, or an empty slice when f selects nothing.
func filter[T any](ctx context.Context, l *Ledger, f AccountFilter, read func(ReadTx, AccountFilter) ([]T, error)) ([]T, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	f, ok := normalize(f)
	if !ok {
		return []T{}, nil
	}
	var out []T
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := read(tx, f)
		out = slices.Clone(found) // the store may reuse found
		return err
	})
	if out == nil && err == nil {
		out = []T{}
	}
	return out, err
}
