// Package memory is the in-memory ledger.Store: maps and slices behind one
// lock. It is the reference model the SQL stores are tested against, and
// the fastest store for tests and simulations. Nothing survives the
// process.
package memory

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
)

// Store is an in-memory ledger.Store. Update transactions run one at a
// time under a lock and apply their writes only when fn succeeds; View
// transactions share the lock. A call that waits for the lock waits no
// longer once its context has ended. Transfers and balance history rows
// are kept in timestamp order: those the ledger writes, past the stored
// ones, are appended; a row below the last one (never written by the
// ledger) is inserted in its place, in time linear in the rows stored.
// New makes a Store: a nil *Store, or the zero Store, fails every call
// (Update, View, Close) with ledger.ErrNilStore. Update and View given a
// nil context fail with ledger.ErrNilContext, and given a nil fn with
// ledger.ErrNilFunc, without taking the lock. Store is safe for concurrent
// use.
type Store struct {
	mu         rwLock
	closed     bool
	last       uint64
	accountIDs idtable.Table[ledger.ID] // numbers the accounts
	accounts   []*account               // by number
	transfers  chunks                   // in the order stored
	byID       index                    // position in transfers
	byTime     []uint32                 // positions in transfers by timestamp; nil while they ascend (placeTransfer)
	pending    map[ledger.ID]ledger.Pending
	expiry     expiryHeap // the active pending transfers with a timeout
	failed     map[ledger.ID]ledger.FailedTransfer
	lockBuf    []ledger.Account // reused by LockAccounts
	// The accounts with a balance history row, by ascending ID, as
	// BalanceRows reads them; nil from when an account's first row is
	// stored (commitLocked) until BalanceRows sorts them again.
	historyOrder atomic.Pointer[[]*account]
	// The IDs of the accounts, the transfers, the pending states and the
	// failed transfers an Update inserts, numbered by checkLocked, and of
	// the rows it updates.
	txAccounts, txTransfers, txPending, txFailed, txUpdated idtable.Table[ledger.ID]
	// The transfer timestamps or the balance history keys an Update
	// inserts, numbered by checkKeys when they do not come in the ledger's
	// order.
	txKeys idtable.Pairs[ledger.ID]
}

type account struct {
	ledger.Account
	transfers []uint32     // positions in Store.transfers, by ascending timestamp
	history   []historyRow // ascending timestamp
}

// historyRow is a balance history row and the position of its transfer in
// Store.transfers.
type historyRow struct {
	ledger.AccountBalance
	transfer uint32
}

var _ ledger.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		mu:      newRWLock(),
		pending: make(map[ledger.ID]ledger.Pending),
		failed:  make(map[ledger.ID]ledger.FailedTransfer),
	}
}

// notMade reports whether New did not make s: nil, or the zero Store,
// whose lock has no channels to wait on.
func (s *Store) notMade() bool { return s == nil || s.mu.turn == nil }

// Close waits for the transactions under way to end, and makes later
// transactions fail with ledger.ErrClosed.
func (s *Store) Close() error {
	if s.notMade() {
		return ledger.ErrNilStore
	}
	_ = s.mu.lock(context.Background()) // fails only when its context ends
	defer s.mu.unlock()
	s.closed = true
	return nil
}

// Update runs fn with the store locked, and applies its writes when fn
// returns nil. fn runs exactly once. A row that names a row which is
// neither stored nor written by fn (a transfer its accounts, a pending
// state its transfer, a balance history row its account or its transfer,
// an update its account or pending state), a pending state of a transfer
// that is not pending, a transfer whose debit and credit account are the
// same, or an update of an account or pending state that fn updates twice,
// or an insert of an account, a transfer, a pending state or a failed
// transfer whose ID is stored or that fn inserts twice, or of a transfer
// whose timestamp, or a balance history row whose account and timestamp,
// is stored or inserted twice, or a last timestamp that is not past the
// last one, fails Update with ledger.ErrCorrupt and nothing of fn's writes
// is applied, as the SQL stores refuse it. The write methods never fail:
// the store checks the writes once fn has returned nil. Nor do the reads,
// but for a limit out of range (ledger.ErrLimit, see ledger.ReadTx): such
// a read fails Update with its error even when fn ignored it and returned
// nil, and nothing of fn's writes is applied.
// When ctx has ended before Update holds the lock (while it waits for an
// Update or a View under way, say), Update fails with ctx.Err() without
// running fn; when it has ended by the time fn returns nil, Update fails
// with ctx's error and applies nothing, without checking the writes (which
// ctx's error wins over, see ledger.Store.Update).
func (s *Store) Update(ctx context.Context, fn func(tx ledger.Tx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	if err := s.mu.lock(ctx); err != nil {
		return err
	}
	defer s.mu.unlock()
	if s.closed {
		return ledger.ErrClosed
	}
	tx := &tx{last: s.last}
	tx.readTx = readTx{s: s, refused: &tx.refused}
	if err := fn(tx); err != nil {
		return err
	}
	if tx.refused != nil {
		return tx.refused // a read refused, whose error fn ignored
	}
	if err := ctx.Err(); err != nil {
		return err // ended while fn ran: nothing applied, as the SQL stores commit nothing
	}
	if err := tx.checkLocked(); err != nil {
		return err
	}
	tx.commitLocked()
	return nil
}

// View runs fn with the store locked for reading, which other Views share.
// When ctx has ended before View holds the lock (while it waits for an
// Update under way, or for one that waits itself, say), View fails with
// ctx.Err() without running fn.
func (s *Store) View(ctx context.Context, fn func(tx ledger.ReadTx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	if err := s.mu.rlock(ctx); err != nil {
		return err
	}
	defer s.mu.runlock()
	if s.closed {
		return ledger.ErrClosed
	}
	return fn(readTx{s: s})
}

type readTx struct {
	s *Store
	// refused, in an Update, holds the error of the first read refused (a
	// limit out of range), which loses the transaction; nil in a View.
	refused *error
}

// refuseLimit returns the refusal of a read given limit, or nil
// (ledger.CheckLimit); in an Update it records it as a failed read.
func (r readTx) refuseLimit(limit int) error {
	err := ledger.CheckLimit(limit)
	if err != nil && r.refused != nil && *r.refused == nil {
		*r.refused = err
	}
	return err
}

// LastTimestamp implements ledger.ReadTx and ledger.Tx: an Update holds
// the whole store, which stands for the lock of the record.
func (r readTx) LastTimestamp() (uint64, error) { return r.s.last, nil }

func (r readTx) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	out := make([]ledger.Account, 0, len(ids))
	for _, id := range ids {
		if a := r.s.account(id); a != nil {
			out = append(out, a.Account)
		}
	}
	return out, nil
}

func (r readTx) Transfers(ids []ledger.ID) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	for _, id := range ids {
		if i, ok := r.s.byID.get(&r.s.transfers, id); ok {
			out = append(out, *r.s.transfers.at(i))
		}
	}
	return out, nil
}

func (r readTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	if err := r.refuseLimit(f.Limit); err != nil {
		return nil, err
	}
	a := r.s.account(f.AccountID)
	if a == nil {
		return nil, nil
	}
	ts := func(k int) uint64 { return r.s.transfers.at(int(a.transfers[k])).Timestamp }
	lo := sort.Search(len(a.transfers), func(k int) bool { return ts(k) >= f.TimestampMin })
	hi := sort.Search(len(a.transfers), func(k int) bool { return ts(k) > f.TimestampMax })
	var out []ledger.Transfer
	scan(lo, hi, f.Flags&ledger.AccountFilterReversed != 0, func(k int) bool {
		if t := r.s.transfers.at(int(a.transfers[k])); matches(&f, t) {
			out = append(out, *t)
		}
		return len(out) < f.Limit
	})
	return out, nil
}

// scan calls fn for k in [lo, hi), descending when reversed, until fn
// returns false.
func scan(lo, hi int, reversed bool, fn func(k int) bool) {
	if reversed {
		for k := hi - 1; k >= lo && fn(k); k-- {
		}
	} else {
		for k := lo; k < hi && fn(k); k++ {
		}
	}
}

// matches reports whether t matches the side, user data and code of f.
func matches(f *ledger.AccountFilter, t *ledger.Transfer) bool {
	side := (f.Flags&ledger.AccountFilterDebits != 0 && t.DebitAccountID == f.AccountID) ||
		(f.Flags&ledger.AccountFilterCredits != 0 && t.CreditAccountID == f.AccountID)
	return side && matchesData(f, t)
}

// matchesData reports whether t matches the user data and code of f.
func matchesData(f *ledger.AccountFilter, t *ledger.Transfer) bool {
	return (f.UserData128.IsZero() || t.UserData128 == f.UserData128) &&
		(f.UserData64 == 0 || t.UserData64 == f.UserData64) &&
		(f.UserData32 == 0 || t.UserData32 == f.UserData32) &&
		(f.Code == 0 || t.Code == f.Code)
}

func (r readTx) AccountBalances(f ledger.AccountFilter) ([]ledger.AccountBalance, error) {
	if err := r.refuseLimit(f.Limit); err != nil {
		return nil, err
	}
	a := r.s.account(f.AccountID)
	if a == nil {
		return nil, nil
	}
	h := a.history
	lo := sort.Search(len(h), func(k int) bool { return h[k].Timestamp >= f.TimestampMin })
	hi := sort.Search(len(h), func(k int) bool { return h[k].Timestamp > f.TimestampMax })
	// With both sides, the side is no condition (ledger.ReadTx).
	both := f.Flags&(ledger.AccountFilterDebits|ledger.AccountFilterCredits) == ledger.AccountFilterDebits|ledger.AccountFilterCredits
	var out []ledger.AccountBalance
	scan(lo, hi, f.Flags&ledger.AccountFilterReversed != 0, func(k int) bool {
		if t := r.s.transfers.at(int(h[k].transfer)); (both && matchesData(&f, t)) || matches(&f, t) {
			out = append(out, h[k].AccountBalance)
		}
		return len(out) < f.Limit
	})
	return out, nil
}

// BalanceRows implements ledger.ReadTx: a binary search of the accounts
// with a balance history by ID (historyAccounts), then of the first one's
// rows by timestamp. Every row belongs to a stored account (Update refuses
// others).
func (r readTx) BalanceRows(account ledger.ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	if err := r.refuseLimit(limit); err != nil {
		return nil, err
	}
	accts := r.s.historyAccounts()
	first := sort.Search(len(accts), func(k int) bool { return accts[k].ID.Compare(account) >= 0 })
	// rows returns the rows of the kth account that the page reads.
	rows := func(k int) []historyRow {
		h := accts[k].history
		if accts[k].ID == account {
			h = h[sort.Search(len(h), func(i int) bool { return h[i].Timestamp >= from }):]
		}
		return h
	}
	n := 0
	for k := first; k < len(accts) && n < limit; k++ {
		n += len(rows(k))
	}
	out := make([]ledger.BalanceRow, 0, min(n, limit))
	for k := first; k < len(accts) && len(out) < limit; k++ {
		h := rows(k)
		for _, row := range h[:min(len(h), limit-len(out))] {
			out = append(out, ledger.BalanceRow{AccountBalance: row.AccountBalance, TransferID: r.s.transfers.at(int(row.transfer)).ID})
		}
	}
	return out, nil
}

// historyAccounts returns the accounts with a balance history row, by
// ascending ID: those sorted last, unless an account has had its first
// row stored since. Views that sort them at once store the same order.
func (s *Store) historyAccounts() []*account {
	if p := s.historyOrder.Load(); p != nil {
		return *p
	}
	var accts []*account
	for _, a := range s.accounts {
		if len(a.history) > 0 {
			accts = append(accts, a)
		}
	}
	slices.SortFunc(accts, func(a, b *account) int { return a.ID.Compare(b.ID) })
	s.historyOrder.Store(&accts)
	return accts
}

func (r readTx) Pending(ids []ledger.ID) ([]ledger.Pending, error) {
	out := make([]ledger.Pending, 0, len(ids))
	for _, id := range ids {
		if p, ok := r.s.pending[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (r readTx) FailedTransfers(ids []ledger.ID) ([]ledger.FailedTransfer, error) {
	var out []ledger.FailedTransfer
	if len(r.s.failed) == 0 {
		return nil, nil
	}
	for _, id := range ids {
		if f, ok := r.s.failed[id]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func (r readTx) ForEachAccount(fn func(ledger.Account) error) error {
	byID := slices.Clone(r.s.accounts)
	slices.SortFunc(byID, func(a, b *account) int { return a.ID.Compare(b.ID) })
	for _, a := range byID {
		if err := fn(a.Account); err != nil {
			return err
		}
	}
	return nil
}

func (r readTx) ForEachTransfer(fn func(ledger.Transfer) error) error {
	for k := range r.s.transfers.n {
		if err := fn(*r.s.transferByTime(k)); err != nil {
			return err
		}
	}
	return nil
}

func (r readTx) ForEachPending(fn func(ledger.Pending) error) error {
	return forEachByID(r.s.pending, fn)
}

func (r readTx) ForEachFailed(fn func(ledger.FailedTransfer) error) error {
	return forEachByID(r.s.failed, fn)
}

// forEachByID calls fn for every row of m in ascending ID order and stops
// at fn's first error, which it returns.
func forEachByID[T any](m map[ledger.ID]T, fn func(T) error) error {
	for _, id := range slices.SortedFunc(maps.Keys(m), ledger.ID.Compare) {
		if err := fn(m[id]); err != nil {
			return err
		}
	}
	return nil
}

// tx buffers the writes of one Update until fn returns nil.
type tx struct {
	readTx
	last       uint64 // the last timestamp: stored, or set by the transaction
	lastErr    error  // that of the first call of SetLastTimestamp that went back
	refused    error  // that of the first read refused (readTx.refused)
	newAccts   [][]ledger.Account
	updAccts   [][]ledger.Account
	transfers  [][]ledger.Transfer
	newPending [][]ledger.Pending
	updPending [][]ledger.Pending
	failed     [][]ledger.FailedTransfer
	balances   [][]ledger.BalanceRow
}

func (t *tx) SetLastTimestamp(ts uint64) error {
	if ts <= t.last {
		if t.lastErr == nil {
			t.lastErr = fmt.Errorf("%w: last timestamp %d set, not past %d", ledger.ErrCorrupt, ts, t.last)
		}
		return nil
	}
	t.last = ts
	return nil
}

// LockAccounts reads like Accounts, into a buffer that the store reuses
// from one Update to the next (Update runs one at a time).
func (t *tx) LockAccounts(ids []ledger.ID) ([]ledger.Account, error) {
	s := t.s
	out := s.lockBuf[:0]
	for _, id := range ids {
		if a := s.account(id); a != nil {
			out = append(out, a.Account)
		}
	}
	s.lockBuf = out
	return out, nil
}

func (t *tx) ExpiredPending(now uint64, limit int) ([]ledger.Transfer, error) {
	if err := t.refuseLimit(limit); err != nil {
		return nil, err
	}
	s := t.s
	var due []expiry
	for s.expiry.Len() > 0 && s.expiry.entries[0].at <= now && len(due) < limit {
		due = append(due, heap.Pop(&s.expiry).(expiry))
	}
	out := make([]ledger.Transfer, 0, len(due))
	for _, e := range due {
		heap.Push(&s.expiry, e) // stays until its state changes (commitLocked)
		i, _ := s.byID.get(&s.transfers, e.id)
		out = append(out, *s.transfers.at(i))
	}
	return out, nil
}

func (t *tx) InsertAccounts(a []ledger.Account) error {
	t.newAccts = append(t.newAccts, a)
	return nil
}

func (t *tx) UpdateAccounts(a []ledger.Account) error {
	t.updAccts = append(t.updAccts, a)
	return nil
}

func (t *tx) InsertTransfers(tr []ledger.Transfer) error {
	t.transfers = append(t.transfers, tr)
	return nil
}

func (t *tx) InsertPending(p []ledger.Pending) error {
	t.newPending = append(t.newPending, p)
	return nil
}

func (t *tx) UpdatePending(p []ledger.Pending) error {
	t.updPending = append(t.updPending, p)
	return nil
}

func (t *tx) InsertFailed(f []ledger.FailedTransfer) error {
	t.failed = append(t.failed, f)
	return nil
}

func (t *tx) InsertBalances(b []ledger.BalanceRow) error {
	t.balances = append(t.balances, b)
	return nil
}

// checkLocked returns an error wrapping ledger.ErrCorrupt when a row of
// the transaction names a row that is neither stored nor written by the
// transaction: a transfer its debit or credit account, a pending state its
// transfer, a balance history row its account or its transfer, an update
// its account or pending state; when a pending state names a transfer that
// is not pending; when a transfer debits and credits the same account;
// when it updates an account or a pending state twice; when it inserts an
// account, a transfer, a pending state or a failed transfer whose ID is
// stored, or twice; when it inserts a transfer whose timestamp, or a
// balance history row whose account and timestamp, is stored or inserted
// twice; or when it set a last timestamp that is not past the last one. It
// numbers the IDs of each kind of insert first (Store.txAccounts and the
// like), which finds an ID inserted twice and serves the lookups after,
// such as that of the transfer a balance history row names (hasTransfer).
func (t *tx) checkLocked() error {
	s := t.s
	if t.lastErr != nil {
		return t.lastErr
	}
	if err := numberInserts(&s.txAccounts, t.newAccts, "account", func(a *ledger.Account) ledger.ID { return a.ID },
		func(id ledger.ID) bool { return s.account(id) != nil }); err != nil {
		return err
	}
	if err := numberInserts(&s.txTransfers, t.transfers, "transfer", func(tr *ledger.Transfer) ledger.ID { return tr.ID },
		func(id ledger.ID) bool { _, ok := s.byID.get(&s.transfers, id); return ok }); err != nil {
		return err
	}
	if err := numberInserts(&s.txPending, t.newPending, "pending state of transfer", func(p *ledger.Pending) ledger.ID { return p.ID },
		func(id ledger.ID) bool { _, ok := s.pending[id]; return ok }); err != nil {
		return err
	}
	if err := numberInserts(&s.txFailed, t.failed, "failed transfer", func(f *ledger.FailedTransfer) ledger.ID { return f.ID },
		func(id ledger.ID) bool { _, ok := s.failed[id]; return ok }); err != nil {
		return err
	}
	if err := checkKeys(s, t.transfers, false,
		func(tr *ledger.Transfer) (ledger.ID, uint64) { return ledger.ID{}, tr.Timestamp },
		func(_ ledger.ID, ts uint64) bool { return s.transferAt(ts) },
		func(_ ledger.ID, ts uint64) string { return fmt.Sprintf("transfer timestamp %d", ts) }); err != nil {
		return err
	}
	for _, batch := range t.transfers {
		for k := range batch {
			tr := &batch[k]
			if tr.DebitAccountID == tr.CreditAccountID {
				return fmt.Errorf("%w: transfer %v debits and credits the same account %v",
					ledger.ErrCorrupt, tr.ID, tr.DebitAccountID)
			}
			for _, a := range [...]ledger.ID{tr.DebitAccountID, tr.CreditAccountID} {
				if !t.hasAccount(a) {
					return fmt.Errorf("%w: transfer %v names account %v, which does not exist", ledger.ErrCorrupt, tr.ID, a)
				}
			}
		}
	}
	if err := checkKeys(s, t.balances, true,
		func(b *ledger.BalanceRow) (ledger.ID, uint64) { return b.AccountID, b.Timestamp },
		func(id ledger.ID, ts uint64) bool { a := s.account(id); return a != nil && a.historyAt(ts) },
		func(id ledger.ID, ts uint64) string {
			return fmt.Sprintf("balance history of account %v at %d", id, ts)
		}); err != nil {
		return err
	}
	if a, twice := number(&s.txUpdated, t.updAccts, func(a *ledger.Account) ledger.ID { return a.ID }); twice {
		return fmt.Errorf("%w: account %v updated twice", ledger.ErrCorrupt, a)
	}
	if p, twice := number(&s.txUpdated, t.updPending, func(p *ledger.Pending) ledger.ID { return p.ID }); twice {
		return fmt.Errorf("%w: pending state of transfer %v updated twice", ledger.ErrCorrupt, p)
	}
	for _, batch := range t.updAccts {
		for k := range batch {
			if a := batch[k].ID; !t.hasAccount(a) {
				return fmt.Errorf("%w: update of account %v, which does not exist", ledger.ErrCorrupt, a)
			}
		}
	}
	for _, batch := range t.newPending {
		for _, p := range batch {
			flags, ok := t.transferFlags(p.ID)
			if !ok {
				return fmt.Errorf("%w: pending state of transfer %v, which does not exist", ledger.ErrCorrupt, p.ID)
			}
			if flags&ledger.TransferPending == 0 {
				return fmt.Errorf("%w: pending state of transfer %v, which is not pending", ledger.ErrCorrupt, p.ID)
			}
		}
	}
	for _, batch := range t.updPending {
		for _, p := range batch {
			if !t.hasPending(p.ID) {
				return fmt.Errorf("%w: update of the pending state of transfer %v, which does not exist", ledger.ErrCorrupt, p.ID)
			}
		}
	}
	for _, batch := range t.balances {
		for k := range batch {
			b := &batch[k]
			if !t.hasAccount(b.AccountID) {
				return fmt.Errorf("%w: balance history at %d of account %v, which does not exist",
					ledger.ErrCorrupt, b.Timestamp, b.AccountID)
			}
			if !t.hasTransfer(b.TransferID) {
				return fmt.Errorf("%w: balance history of account %v at %d names transfer %v, which does not exist",
					ledger.ErrCorrupt, b.AccountID, b.Timestamp, b.TransferID)
			}
		}
	}
	return nil
}

// transferAt reports whether a stored transfer has timestamp ts: a
// binary search of the transfers by timestamp (transferByTime), where a
// timestamp past the last one, as the ledger assigns them, is found
// absent at once.
func (s *Store) transferAt(ts uint64) bool {
	n := s.transfers.n
	if n == 0 || ts > s.transferByTime(n-1).Timestamp {
		return false
	}
	k := sort.Search(n, func(k int) bool { return s.transferByTime(k).Timestamp >= ts })
	return s.transferByTime(k).Timestamp == ts
}

// transferByTime returns the stored transfer of rank k (from 0) by
// ascending timestamp.
func (s *Store) transferByTime(k int) *ledger.Transfer {
	if s.byTime != nil {
		return s.transfers.at(int(s.byTime[k]))
	}
	return s.transfers.at(k)
}

// placeTransfer ranks by timestamp the transfer just stored at position
// i, after every other, and reports whether its timestamp is past theirs,
// as the ledger's are. Only a writer other than the ledger stores a
// transfer below another: from then on byTime lists the positions by
// timestamp, and a transfer below the last is inserted in its place.
func (s *Store) placeTransfer(i int) (last bool) {
	if i == 0 || s.transferByTime(i-1).Timestamp < s.transfers.at(i).Timestamp {
		if s.byTime != nil {
			s.byTime = append(s.byTime, uint32(i))
		}
		return true
	}
	if s.byTime == nil {
		s.byTime = make([]uint32, i, 2*i)
		for k := range s.byTime {
			s.byTime[k] = uint32(k)
		}
	}
	s.byTime = s.transfers.insertByTime(s.byTime, i)
	return false
}

// historyAt reports whether a's stored balance history has a row at ts.
// The history ascends by timestamp, and a timestamp past its last row, as
// the ledger writes them, is found absent at once.
func (a *account) historyAt(ts uint64) bool {
	h := a.history
	if len(h) == 0 || ts > h[len(h)-1].Timestamp {
		return false
	}
	_, ok := slices.BinarySearchFunc(h, ts, func(r historyRow, ts uint64) int { return cmp.Compare(r.Timestamp, ts) })
	return ok
}

// hasAccount reports whether account id is stored or inserted by the
// transaction.
func (t *tx) hasAccount(id ledger.ID) bool {
	if t.s.account(id) != nil {
		return true
	}
	_, ok := t.s.txAccounts.Find(id)
	return ok
}

// hasPending reports whether the pending state of transfer id is stored
// or inserted by the transaction.
func (t *tx) hasPending(id ledger.ID) bool {
	if _, ok := t.s.pending[id]; ok {
		return true
	}
	_, ok := t.s.txPending.Find(id)
	return ok
}

// transferFlags returns the flags of transfer id, inserted by the
// transaction or stored; ok is false when there is no such transfer.
func (t *tx) transferFlags(id ledger.ID) (flags ledger.TransferFlags, ok bool) {
	s := t.s
	if n, ok := s.txTransfers.Find(id); ok {
		// The transaction inserts each transfer once (checkLocked), so
		// its number is its place among them.
		for _, batch := range t.transfers {
			if n < len(batch) {
				return batch[n].Flags, true
			}
			n -= len(batch)
		}
	}
	if i, ok := s.byID.get(&s.transfers, id); ok {
		return s.transfers.at(i).Flags, true
	}
	return 0, false
}

// hasTransfer reports whether transfer id is inserted by the transaction
// (numbered in Store.txTransfers by checkLocked) or stored (a released
// pending transfer).
func (t *tx) hasTransfer(id ledger.ID) bool {
	if _, ok := t.s.txTransfers.Find(id); ok {
		return true
	}
	_, ok := t.s.byID.get(&t.s.transfers, id)
	return ok
}

func (t *tx) commitLocked() {
	s := t.s
	s.last = t.last
	for _, batch := range t.newAccts {
		for _, a := range batch {
			if n, added := s.accountIDs.Add(a.ID); !added {
				s.accounts[n] = &account{Account: a}
				s.historyOrder.Store(nil) // may hold the account replaced
			} else {
				s.accounts = append(s.accounts, &account{Account: a})
			}
		}
	}
	for _, batch := range t.updAccts {
		for _, u := range batch {
			a := s.account(u.ID) // there, by checkLocked
			a.DebitsPending, a.DebitsPosted = u.DebitsPending, u.DebitsPosted
			a.CreditsPending, a.CreditsPosted = u.CreditsPending, u.CreditsPosted
			a.Flags = u.Flags
		}
	}
	for _, batch := range t.transfers {
		first := s.transfers.appendAll(batch)
		for k := range batch {
			tr := &batch[k]
			i := first + k
			s.byID.put(&s.transfers, tr.ID, i)
			dr, cr := s.account(tr.DebitAccountID), s.account(tr.CreditAccountID) // there, by checkLocked
			if s.placeTransfer(i) {
				dr.transfers = append(dr.transfers, uint32(i))
				cr.transfers = append(cr.transfers, uint32(i))
			} else {
				dr.transfers = s.transfers.insertByTime(dr.transfers, i)
				cr.transfers = s.transfers.insertByTime(cr.transfers, i)
			}
		}
	}
	for _, batch := range t.newPending {
		for _, p := range batch {
			s.pending[p.ID] = p
			if p.Status == ledger.PendingActive && p.ExpiresAt != 0 {
				s.expiry.add(expiry{at: p.ExpiresAt, ts: p.Timestamp, id: p.ID})
			}
		}
	}
	for _, batch := range t.updPending {
		for _, u := range batch {
			p := s.pending[u.ID] // there, by checkLocked
			switch {
			case u.Status != ledger.PendingActive:
				s.expiry.remove(u.ID) // posted, voided or expired: due no more
			case p.ExpiresAt != 0:
				// Active, or made active again, as no ledger does: it
				// expires as any active state does.
				s.expiry.add(expiry{at: p.ExpiresAt, ts: p.Timestamp, id: p.ID})
			}
			p.Status = u.Status
			s.pending[u.ID] = p
		}
	}
	for _, batch := range t.failed {
		for _, f := range batch {
			s.failed[f.ID] = f
		}
	}
	for _, batch := range t.balances {
		for _, b := range batch {
			i, _ := s.byID.get(&s.transfers, b.TransferID) // there, by checkLocked
			a := s.account(b.AccountID)                    // there, by checkLocked
			row := historyRow{b.AccountBalance, uint32(i)}
			if len(a.history) == 0 {
				s.historyOrder.Store(nil) // a's first row: sorted again when read
			}
			if n := len(a.history); n == 0 || a.history[n-1].Timestamp < b.Timestamp {
				a.history = append(a.history, row) // as the ledger writes them
			} else {
				k := sort.Search(n, func(k int) bool { return a.history[k].Timestamp > b.Timestamp })
				a.history = slices.Insert(a.history, k, row)
			}
		}
	}
}

// account returns the account id, or nil.
func (s *Store) account(id ledger.ID) *account {
	if n, ok := s.accountIDs.Find(id); ok {
		return s.accounts[n]
	}
	return nil
}

// chunks stores transfers in fixed-size chunks, so that growing never
// copies what is stored.
type chunks struct {
	n      int
	chunks [][]ledger.Transfer
}

const chunkBits = 12

func (c *chunks) at(i int) *ledger.Transfer { return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

// appendAll stores ts and returns the index of the first.
func (c *chunks) appendAll(ts []ledger.Transfer) int {
	first := c.n
	for len(ts) > 0 {
		if c.n>>chunkBits == len(c.chunks) {
			c.chunks = append(c.chunks, make([]ledger.Transfer, 1<<chunkBits))
		}
		k := copy(c.chunks[c.n>>chunkBits][c.n&(1<<chunkBits-1):], ts)
		c.n += k
		ts = ts[k:]
	}
	return first
}

// insertByTime inserts position i into list, positions in c by
// ascending timestamp, in its place, and returns list.
func (c *chunks) insertByTime(list []uint32, i int) []uint32 {
	ts := c.at(i).Timestamp
	k := sort.Search(len(list), func(k int) bool { return c.at(int(list[k])).Timestamp > ts })
	return slices.Insert(list, k, uint32(i))
}

// expiry is an active pending transfer with a timeout: when it expires,
// its timestamp and its ID.
type expiry struct {
	at, ts uint64
	id     ledger.ID
}

// expiryHeap holds the active pending transfers with a timeout, ordered
// by (expiry time, timestamp), and finds each one's entry by ID, so that
// a post, a void or an expiry removes it at once.
type expiryHeap struct {
	entries []expiry
	pos     map[ledger.ID]int // index in entries
}

// add adds e, unless its transfer has an entry.
func (h *expiryHeap) add(e expiry) {
	if _, ok := h.pos[e.id]; !ok {
		heap.Push(h, e)
	}
}

// remove removes the entry of transfer id, if it has one.
func (h *expiryHeap) remove(id ledger.ID) {
	if k, ok := h.pos[id]; ok {
		heap.Remove(h, k)
	}
}

func (h *expiryHeap) Len() int { return len(h.entries) }
func (h *expiryHeap) Less(i, j int) bool {
	a, b := &h.entries[i], &h.entries[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.ts < b.ts
}
func (h *expiryHeap) Swap(i, j int) {
	h.entries[i], h.entries[j] = h.entries[j], h.entries[i]
	h.pos[h.entries[i].id] = i
	h.pos[h.entries[j].id] = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(expiry)
	if h.pos == nil {
		h.pos = make(map[ledger.ID]int)
	}
	h.pos[e.id] = len(h.entries)
	h.entries = append(h.entries, e)
}
func (h *expiryHeap) Pop() any {
	n := len(h.entries) - 1
	e := h.entries[n]
	h.entries[n] = expiry{}
	h.entries = h.entries[:n]
	delete(h.pos, e.id)
	return e
}
