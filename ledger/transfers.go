package ledger

import (
	"cmp"
	"slices"

	"github.com/casimpay/casimpay/ledger/internal/idtable"
)

// working is the state of one CreateTransfers batch inside a transaction:
// the locked accounts, the transfers and pending states it read, and what
// it will write.
type working struct {
	// Accounts the batch may touch are numbered (their slots) in the
	// order the batch first names them: slots maps an ID to its slot and
	// back, bySlot[s] is the account in slot s (nil for an account that
	// does not exist), and evAcct holds the slots of each event's debit
	// and credit accounts, so that the rules find them without hashing.
	slots       idtable.Table[ID]
	bySlot      []*workAccount
	evAcct      []eventAccounts
	lockIDs     []ID // slots.Keys() sorted, for LockAccounts
	sorter      idSorter
	accountList []workAccount    // what LockAccounts returned
	pendingList []workPending    // what Pending returned
	transfers   map[ID]*Transfer // stored ones it read, and the ones it created
	pending     map[ID]*workPending
	failed      map[ID]struct{}
	needed      map[ID]struct{} // created IDs the batch may look up again

	created    []Transfer // capacity fixed up front: pointers into it stay valid
	newFailed  []FailedTransfer
	history    []BalanceRow // rolled back with a chain
	expiryHist []BalanceRow // never rolled back
	undo       []undo
	inChain    bool  // log changes in undo
	err        error // set when the store's data breaks an invariant

	// buffers reused from batch to batch
	ids, pendIDs []ID
	dirty        []Account
	newP, updP   []Pending
}

// eventAccounts are the slots of an event's debit and credit accounts, -1
// for an ID that cannot name an account.
type eventAccounts struct{ dr, cr int32 }

type workAccount struct {
	Account
	dirty bool
}

type workPending struct {
	Pending
	isNew bool // created in this batch
	dirty bool // status changed
}

// undo reverts one change made inside a linked chain.
type undo struct {
	acc                *workAccount // balance change (added deltas) or flag toggle
	dp, dpo, cp, cpo   uint64
	toggleClosed       bool
	pend               *workPending // status change
	oldStatus          PendingStatus
	newPending, create bool // a pending state or a transfer was created
	id                 ID
}

// reset prepares w for a batch of n events, keeping the memory of the
// previous batch.
func (w *working) reset(n int) {
	if w.transfers == nil {
		w.transfers = make(map[ID]*Transfer, n)
		w.failed = make(map[ID]struct{})
		w.pending = make(map[ID]*workPending)
		w.needed = make(map[ID]struct{})
	}
	clear(w.needed)
	clear(w.transfers)
	clear(w.failed)
	w.slots.Reset(2 * n)
	clear(w.pending)
	w.created = slices.Grow(w.created[:0], n)
	w.newFailed = w.newFailed[:0]
	w.history = w.history[:0]
	w.expiryHist = w.expiryHist[:0]
	w.undo = w.undo[:0]
	w.inChain = false
	w.err = nil
	w.ids = w.ids[:0]
	w.evAcct = w.evAcct[:0]
	w.pendIDs = w.pendIDs[:0]
	w.dirty = w.dirty[:0]
	w.newP = w.newP[:0]
	w.updP = w.updP[:0]
}

// createTransfers applies events inside tx and returns one result per
// event. ends lists the exclusive end index of each request merged into
// events: a linked chain never crosses an end. It reuses l.work, so only
// the batcher goroutine calls it.
func (l *Ledger) createTransfers(tx Tx, events []Transfer, ends []int) ([]CreateTransferResult, error) {
	w := &l.work
	w.reset(len(events))
	last, err := tx.LastTimestamp()
	if err != nil {
		return nil, err
	}
	ts := l.firstTimestamp(last)
	// The events must fit before the sweep reads the store, which is
	// never asked about a time past TimestampLimit (a SQL store's column
	// would take it wrapped to a negative one).
	if err := timestampsFit(ts, len(events)); err != nil {
		return nil, err
	}

	expired, err := tx.ExpiredPending(ts, l.expiryLimit)
	if err != nil {
		return nil, err
	}
	// Each expiry takes a timestamp of its own, before the events'.
	if err := timestampsFit(ts, len(expired)+len(events)); err != nil {
		return nil, err
	}

	// Read what the events refer to: transfers with their IDs (exists) and
	// their pending IDs, and failed IDs.
	ids := w.ids
	for i := range events {
		t := &events[i]
		if t.ID.Valid() {
			ids = append(ids, t.ID)
		}
		if t.PendingID.Valid() && t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0 {
			ids = append(ids, t.PendingID)
		}
	}
	// An ID that occurs twice (an event ID repeated, or the ID of an event
	// that a later post or void names) must be findable among the
	// transfers the batch creates; other created transfers need no entry.
	w.sorter.sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			w.needed[ids[i]] = struct{}{}
		}
	}
	ids = slices.Compact(ids)
	w.ids = ids
	stored, err := tx.Transfers(ids)
	if err != nil {
		return nil, err
	}
	failed, err := tx.FailedTransfers(ids)
	if err != nil {
		return nil, err
	}
	for i := range stored {
		w.transfers[stored[i].ID] = &stored[i]
	}
	for i := range expired {
		w.transfers[expired[i].ID] = &expired[i]
	}
	for _, f := range failed {
		w.failed[f.ID] = struct{}{}
	}

	// Lock every account the batch may touch, in ascending order.
	pendIDs := w.pendIDs
	addPending := func(p *Transfer) {
		w.addAccount(p.DebitAccountID)
		w.addAccount(p.CreditAccountID)
		if p.Flags&TransferPending != 0 {
			pendIDs = append(pendIDs, p.ID)
		}
	}
	for i := range expired {
		addPending(&expired[i])
	}
	w.evAcct = slices.Grow(w.evAcct, len(events))
	for i := range events {
		t := &events[i]
		w.evAcct = append(w.evAcct, eventAccounts{w.addAccount(t.DebitAccountID), w.addAccount(t.CreditAccountID)})
		if t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0 {
			if p, ok := w.transfers[t.PendingID]; ok {
				addPending(p)
			}
		}
	}
	w.sorter.sort(pendIDs)
	pendIDs = slices.Compact(pendIDs)
	w.pendIDs = pendIDs
	w.lockIDs = append(w.lockIDs[:0], w.slots.Keys()...)
	w.sorter.sort(w.lockIDs)
	accounts, err := tx.LockAccounts(w.lockIDs)
	if err != nil {
		return nil, err
	}
	// Accounts that do not exist keep a nil slot: lookups read nil.
	w.bySlot = slices.Grow(w.bySlot[:0], w.slots.Len())[:w.slots.Len()]
	clear(w.bySlot)
	w.accountList = slices.Grow(w.accountList[:0], len(accounts))[:len(accounts)]
	for i := range accounts {
		w.accountList[i] = workAccount{Account: accounts[i]}
		if s, ok := w.slots.Find(accounts[i].ID); ok {
			w.bySlot[s] = &w.accountList[i]
		}
	}
	pstates, err := tx.Pending(pendIDs)
	if err != nil {
		return nil, err
	}
	w.pendingList = slices.Grow(w.pendingList[:0], len(pstates))[:len(pstates)]
	for i := range pstates {
		w.pendingList[i] = workPending{Pending: pstates[i]}
		w.pending[pstates[i].ID] = &w.pendingList[i]
	}

	// Expiry sweep, in the order of ExpiredPending (by expiry, then by
	// creation): each expiry takes a timestamp of its own.
	for i := range expired {
		p := &expired[i]
		if s := w.pending[p.ID]; s != nil && s.Status == PendingActive {
			w.expire(p, s, ts)
			ts++
		}
	}

	results := make([]CreateTransferResult, len(events))
	saved, savedHist, savedExp := 0, 0, 0
	applyLinked(results, ends,
		chainResults[CreateTransferResult]{TransferCreated, TransferLinkedEventChainOpen, TransferLinkedEventFailed},
		chainHooks{
			open: func() {
				saved, savedHist, savedExp = len(w.undo), len(w.history), len(w.expiryHist)
				w.inChain = true
			},
			rollback: func() {
				w.rollback(saved)
				w.history = w.history[:savedHist]
				w.refreshExpiryHistory(savedExp)
			},
			close: func() {
				w.undo = w.undo[:0]
				w.inChain = false
			},
		},
		func(i int) bool { return events[i].Flags&TransferLinked != 0 },
		func(i int) CreateTransferResult {
			t, a := &events[i], w.evAcct[i]
			r := w.createTransfer(t, ts+uint64(i), w.accountAt(a.dr), w.accountAt(a.cr))
			if r.Transient() {
				w.failed[t.ID] = struct{}{}
				w.newFailed = append(w.newFailed, FailedTransfer{ID: t.ID, Result: r, Timestamp: ts + uint64(i)})
			}
			return r
		})
	ts += uint64(len(events))
	if w.err != nil {
		return nil, w.err
	}
	return results, w.write(tx, ts-1, last)
}

// write stores everything the batch changed. lastTS is the last timestamp
// used; prev what LastTimestamp returned.
func (w *working) write(tx Tx, lastTS, prev uint64) error {
	if len(w.created) > 0 {
		if err := tx.InsertTransfers(w.created); err != nil {
			return err
		}
	}
	dirty := w.dirty
	for i := range w.accountList {
		if a := &w.accountList[i]; a.dirty {
			dirty = append(dirty, a.Account)
		}
	}
	w.dirty = dirty
	if len(dirty) > 0 {
		if !accountsSorted(dirty) {
			sortAccounts(dirty)
		}
		if err := tx.UpdateAccounts(dirty); err != nil {
			return err
		}
	}
	newP, updP := w.newP, w.updP
	for _, p := range w.pending {
		switch {
		case p.isNew:
			newP = append(newP, p.Pending)
		case p.dirty:
			updP = append(updP, p.Pending)
		}
	}
	w.newP, w.updP = newP, updP
	if len(newP) > 0 {
		sortPending(newP)
		if err := tx.InsertPending(newP); err != nil {
			return err
		}
	}
	if len(updP) > 0 {
		sortPending(updP)
		if err := tx.UpdatePending(updP); err != nil {
			return err
		}
	}
	if len(w.newFailed) > 0 {
		if err := tx.InsertFailed(w.newFailed); err != nil {
			return err
		}
	}
	if len(w.expiryHist)+len(w.history) > 0 {
		h := append(w.expiryHist, w.history...)
		if len(w.expiryHist) > 0 {
			slices.SortStableFunc(h, func(x, y BalanceRow) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
		}
		if err := tx.InsertBalances(h); err != nil {
			return err
		}
	}
	if lastTS > prev {
		return tx.SetLastTimestamp(lastTS)
	}
	return nil
}

// refreshExpiryHistory rewrites the balances of the expiry history rows
// from index n on with the accounts' current balances, after a chain's
// rollback. A chain holds at most one expiry: that of the post or void
// that found its hold expired and so broke the chain. Its rows were taken
// with the chain's changes applied; once they are rolled back the
// accounts hold exactly the balances after that expiry.
func (w *working) refreshExpiryHistory(n int) {
	for i := n; i < len(w.expiryHist); i++ {
		h := &w.expiryHist[i]
		a := w.account(h.AccountID)
		h.DebitsPending, h.DebitsPosted = a.DebitsPending, a.DebitsPosted
		h.CreditsPending, h.CreditsPosted = a.CreditsPending, a.CreditsPosted
	}
}

// expire releases the hold of pending transfer p at timestamp ts. It is
// never rolled back: expiry does not depend on the events of the batch.
func (w *working) expire(p *Transfer, s *workPending, ts uint64) {
	dr, cr := w.account(p.DebitAccountID), w.account(p.CreditAccountID)
	if dr == nil || cr == nil {
		w.err = corrupt("pending transfer %v refers to a missing account", p.ID)
		return
	}
	if w.holdsMore(p, dr, cr) {
		return
	}
	dr.DebitsPending -= p.Amount
	cr.CreditsPending -= p.Amount
	dr.dirty, cr.dirty = true, true
	if p.Flags&TransferClosingDebit != 0 {
		dr.Flags &^= AccountClosed
	}
	if p.Flags&TransferClosingCredit != 0 {
		cr.Flags &^= AccountClosed
	}
	s.Status = PendingExpired
	s.dirty = true
	w.expiryHist = appendHistory(w.expiryHist, dr, ts, p.ID)
	w.expiryHist = appendHistory(w.expiryHist, cr, ts, p.ID)
}

// holdsMore reports whether p, an active pending transfer, holds more
// than its account dr has in DebitsPending or cr in CreditsPending, and
// then sets w.err: only damaged data gives it, and its release would
// take a pending balance below zero, a uint64 wrapped to nearly 2^64.
func (w *working) holdsMore(p *Transfer, dr, cr *workAccount) bool {
	if dr.DebitsPending >= p.Amount && cr.CreditsPending >= p.Amount {
		return false
	}
	w.err = corrupt("pending transfer %v holds %d, more than its accounts have pending (debits %d, credits %d)",
		p.ID, p.Amount, dr.DebitsPending, cr.CreditsPending)
	return true
}

// addAccount gives id a slot, unless it has one, and returns it: -1 when
// id cannot name an account.
func (w *working) addAccount(id ID) int32 {
	if !id.Valid() {
		return -1
	}
	s, _ := w.slots.Add(id)
	return int32(s)
}

// accountAt returns the account in slot s, or nil when s is -1 or the
// account does not exist.
func (w *working) accountAt(s int32) *workAccount {
	if s < 0 {
		return nil
	}
	return w.bySlot[s]
}

// account returns the locked account id, or nil when the batch did not
// lock it or it does not exist.
func (w *working) account(id ID) *workAccount {
	if s, ok := w.slots.Find(id); ok {
		return w.bySlot[s]
	}
	return nil
}

// appendHistory appends the balances of a at ts, the row of transfer id,
// when a keeps a history.
func appendHistory(h []BalanceRow, a *workAccount, ts uint64, id ID) []BalanceRow {
	if a.Flags&AccountHistory == 0 {
		return h
	}
	return append(h, BalanceRow{AccountBalance: AccountBalance{
		AccountID:      a.ID,
		DebitsPending:  a.DebitsPending,
		DebitsPosted:   a.DebitsPosted,
		CreditsPending: a.CreditsPending,
		CreditsPosted:  a.CreditsPosted,
		Timestamp:      ts,
	}, TransferID: id})
}

// add changes the balances of a (deltas in two's complement) and logs the
// change for a chain rollback.
func (w *working) add(a *workAccount, dp, dpo, cp, cpo uint64) {
	a.DebitsPending += dp
	a.DebitsPosted += dpo
	a.CreditsPending += cp
	a.CreditsPosted += cpo
	a.dirty = true
	if w.inChain {
		w.undo = append(w.undo, undo{acc: a, dp: dp, dpo: dpo, cp: cp, cpo: cpo})
	}
}

func (w *working) toggleClosed(a *workAccount) {
	a.Flags ^= AccountClosed
	a.dirty = true
	if w.inChain {
		w.undo = append(w.undo, undo{acc: a, toggleClosed: true})
	}
}

func (w *working) setStatus(p *workPending, s PendingStatus) {
	if w.inChain {
		w.undo = append(w.undo, undo{pend: p, oldStatus: p.Status})
	}
	p.Status = s
	p.dirty = true
}

// rollback reverts the changes logged since the undo log had length n.
func (w *working) rollback(n int) {
	for i := len(w.undo) - 1; i >= n; i-- {
		u := &w.undo[i]
		switch {
		case u.create:
			delete(w.transfers, u.id)
			w.created = w.created[:len(w.created)-1]
		case u.newPending:
			delete(w.pending, u.id)
		case u.pend != nil:
			u.pend.Status = u.oldStatus
		case u.toggleClosed:
			u.acc.Flags ^= AccountClosed
		default:
			a := u.acc
			a.DebitsPending -= u.dp
			a.DebitsPosted -= u.dpo
			a.CreditsPending -= u.cp
			a.CreditsPosted -= u.cpo
		}
	}
	w.undo = w.undo[:n]
}
