package ledger

import (
	"container/heap"
	"slices"
)

// page reads a stream of rows in ascending order, BatchMax at a time:
// read returns the next rows, and past moves the next read past last, the
// last row read, or reports that no row can follow it.
type page[T any] struct {
	read func() ([]T, error)
	past func(last *T) bool
	rows []T
	done bool
}

// peek returns the next row, or nil at the end of the stream.
func (p *page[T]) peek() (*T, error) {
	if len(p.rows) == 0 && !p.done {
		rows, err := p.read()
		if err != nil {
			return nil, err
		}
		p.rows = rows
		p.done = len(rows) < BatchMax || !p.past(&rows[len(rows)-1])
	}
	if len(p.rows) == 0 {
		return nil, nil
	}
	return &p.rows[0], nil
}

// pop drops the row peek returned.
func (p *page[T]) pop() { p.rows = p.rows[1:] }

// accountTransfers returns the transfers of account id in ascending
// timestamp order, read a page at a time.
func accountTransfers(tx ReadTx, id ID) *page[Transfer] {
	var from uint64
	return &page[Transfer]{
		read: func() ([]Transfer, error) { return tx.AccountTransfers(historyFilter(id, from, BatchMax)) },
		past: func(last *Transfer) bool {
			from = last.Timestamp + 1
			return last.Timestamp < TimestampLimit
		},
	}
}

// balanceRows returns every balance history row, in ascending (account
// ID, timestamp) order, read a page at a time.
func balanceRows(tx ReadTx) *page[BalanceRow] {
	var account ID
	var from uint64
	return &page[BalanceRow]{
		read: func() ([]BalanceRow, error) { return tx.BalanceRows(account, from, BatchMax) },
		past: func(last *BalanceRow) bool {
			account, from = last.AccountID, last.Timestamp+1
			if from != 0 {
				return true
			}
			// Past the greatest timestamp: the next account's rows.
			hi, lo := last.AccountID.Uint64s()
			lo++
			if lo == 0 {
				hi++
			}
			account = IDFromUint64s(hi, lo)
			return last.AccountID != IDMax
		},
	}
}

// replay is the balances of one account as its balance history replays
// them, and the pending transfers that hold an amount in them.
type replay struct {
	sums
	held map[*verifyPending]struct{}
	// The held ones whose state is expired, by expiry and then by
	// timestamp, as the ledger releases them; those released since are
	// dropped once they come first.
	expired byExpiry
}

// counted returns the amount of t that the balances count: an amount
// above AmountLimit counts as zero (Verify reports it with the transfer).
func counted(t *Transfer) uint64 {
	if t.Amount > AmountLimit {
		return 0
	}
	return t.Amount
}

// apply counts t, a transfer of account id, in the balances, as the
// ledger does when it creates t.
func (r *replay) apply(v *verifier, id ID, t *Transfer) {
	amount := counted(t)
	debit, credit := t.DebitAccountID == id, t.CreditAccountID == id
	switch {
	case t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0:
		if p := v.pendings[t.PendingID]; p != nil {
			r.release(id, p)
		}
		if t.Flags&TransferPostPendingTransfer == 0 {
			return
		}
	case t.Flags&TransferPending != 0:
		if p := v.pendings[t.ID]; p != nil && p.t.Timestamp == t.Timestamp {
			r.held[p] = struct{}{}
			if s, ok := v.states[p.t.ID]; ok && s.Status == PendingExpired {
				heap.Push(&r.expired, p)
			}
		}
		if debit {
			r.dp += amount
		}
		if credit {
			r.cp += amount
		}
		return
	}
	if debit {
		r.dpo += amount
	}
	if credit {
		r.cpo += amount
	}
}

// release takes what p holds out of the balances of account id, if the
// replay counts it as held.
func (r *replay) release(id ID, p *verifyPending) {
	if _, ok := r.held[p]; !ok {
		return
	}
	delete(r.held, p)
	r.dp, r.cp = r.released(id, p)
}

// released returns the pending balances of account id once p, a pending
// transfer held in them, has released what it holds.
func (r *replay) released(id ID, p *verifyPending) (dp, cp uint64) {
	dp, cp = r.dp, r.cp
	if p.t.DebitAccountID == id {
		dp -= counted(&p.t)
	}
	if p.t.CreditAccountID == id {
		cp -= counted(&p.t)
	}
	return dp, cp
}

// expiry returns the pending transfer whose expiry gives the balances of
// row, a balance history row of account id at no transfer of it: the one
// that row names when it is held, its state expired, and gives them (a
// post or void may release a hold that expired after another one held,
// and the sweep of a later batch that one); else, among the held ones
// whose state is expired, the first by expiry and then by timestamp (the
// order in which the ledger releases them), which is the first of them
// all unless a post or void released a later one first. It returns nil
// when none does.
func (r *replay) expiry(v *verifier, id ID, row *BalanceRow) *verifyPending {
	for len(r.expired) > 0 {
		if _, ok := r.held[r.expired[0]]; ok {
			break
		}
		heap.Pop(&r.expired)
	}
	gives := func(p *verifyPending) bool {
		if _, ok := r.held[p]; !ok {
			return false
		}
		dp, cp := r.released(id, p)
		return sums{dp, r.dpo, cp, r.cpo} == rowSums(&row.AccountBalance)
	}
	if p := v.pendings[row.TransferID]; p != nil && v.states[p.t.ID].Status == PendingExpired && gives(p) {
		return p
	}
	var found *verifyPending
	for i, p := range r.expired {
		if gives(p) && (found == nil || r.expired.less(p, found)) {
			found = p
		}
		if i == 0 && found != nil {
			break
		}
	}
	return found
}

// balanceHistories checks the balance history rows, all of them read
// once in ascending (account ID, timestamp) order, with the accounts in
// ascending ID order: that a row belongs to an account that exists and
// has a valid ID, that an account without AccountHistory has none, and
// that the rows of one with it follow its transfers (history).
func (v *verifier) balanceHistories(tx ReadTx) error {
	rows := balanceRows(tx)
	// skip drops the rows of account id that come next.
	skip := func(id ID) error {
		for {
			b, err := rows.peek()
			if err != nil || b == nil || b.AccountID != id {
				return err
			}
			v.stamped(b.Timestamp)
			rows.pop()
		}
	}
	ids := v.ids
	for {
		b, err := rows.peek()
		if err != nil {
			return err
		}
		if b != nil && (len(ids) == 0 || b.AccountID.Compare(ids[0]) < 0) {
			v.rowWithoutAccount(b)
			if err := skip(b.AccountID); err != nil {
				return err
			}
			continue
		}
		if len(ids) == 0 {
			return nil
		}
		id := ids[0]
		ids = ids[1:]
		a := v.accounts[id]
		switch {
		case !id.Valid():
			// The account is reported as well, with the accounts.
			if b != nil && b.AccountID == id {
				v.rowWithoutAccount(b)
			}
		case a.Flags&AccountHistory != 0:
			if err := v.history(tx, a, rows); err != nil {
				return err
			}
		case b != nil && b.AccountID == id:
			v.add(id, ID{}, "balance history row at %d, but the account has no AccountHistory flag", b.Timestamp)
		}
		if err := skip(id); err != nil {
			return err
		}
	}
}

// rowWithoutAccount reports b, the first balance history row of an
// account that does not exist, or cannot: one with a reserved ID
// (ID.Valid), stored or not.
func (v *verifier) rowWithoutAccount(b *BalanceRow) {
	if !b.AccountID.Valid() {
		v.add(b.AccountID, ID{}, "balance history row at %d, but the account has reserved ID %v", b.Timestamp, b.AccountID)
		return
	}
	v.add(b.AccountID, ID{}, "balance history row at %d, but the account does not exist", b.Timestamp)
}

// historyFilter selects up to limit transfers of account id, from
// timestamp from on, both sides, ascending.
func historyFilter(id ID, from uint64, limit int) AccountFilter {
	return AccountFilter{AccountID: id, TimestampMin: max(from, 1), TimestampMax: TimestampLimit, Limit: limit,
		Flags: AccountFilterDebits | AccountFilterCredits}
}

// history checks the balance history rows of a, an account with
// AccountHistory, which come next in rows, against its transfers, reading
// both in ascending timestamp order a page at a time. The ledger writes a
// row after every transfer that names the account, at its timestamp, and
// after every release of an expired pending transfer of it, at or after
// the expiry, at a timestamp that no transfer, account or failed-transfer
// record has, nor the release of another hold, and the same in the
// histories of both accounts of the hold; each row
// names its transfer, or the pending transfer it releases, at most at
// TimestampLimit. Each row must hold the balances that the transfers and
// releases before it give; the first that does not, or a transfer without
// a row, is reported, and the rest of the history is not checked (the
// rows of a left in rows are the caller's to skip). The last row must
// hold the account's balances.
func (v *verifier) history(tx ReadTx, a *Account, rows *page[BalanceRow]) error {
	transfers := accountTransfers(tx, a.ID)
	r := replay{held: make(map[*verifyPending]struct{})}
	var last *AccountBalance
	for {
		row, err := rows.peek()
		if err != nil {
			return err
		}
		var b *AccountBalance
		if row != nil && row.AccountID == a.ID {
			b = &row.AccountBalance
		}
		t, err := transfers.peek()
		if err != nil {
			return err
		}
		switch {
		case b == nil && t == nil:
			if last != nil && r.sums != accountSums(a) {
				v.add(a.ID, ID{}, "last balance history row (at %d) has %v, the account %v",
					last.Timestamp, r.sums, accountSums(a))
			}
			return nil
		case b == nil && last == nil:
			v.add(a.ID, ID{}, "transfers name it, but it has no balance history row")
			return nil
		case b == nil || (t != nil && t.Timestamp < b.Timestamp):
			v.add(a.ID, ID{}, "transfer %v at %d names it, but it has no balance history row then", t.ID, t.Timestamp)
			return nil
		}
		v.stamped(b.Timestamp)
		// Past the transfers, which are read up to the limit: a row
		// above it could otherwise pass as a release.
		if b.Timestamp > TimestampLimit {
			v.add(a.ID, ID{}, "balance history row at %d, above the timestamp limit", b.Timestamp)
			return nil
		}
		if t != nil && t.Timestamp == b.Timestamp {
			r.apply(v, a.ID, t)
			transfers.pop()
			if row.TransferID != t.ID {
				v.add(a.ID, ID{}, "balance history row at %d (transfer %v) names transfer %v", b.Timestamp, t.ID, row.TransferID)
				return nil
			}
			if r.sums != rowSums(b) {
				v.add(a.ID, ID{}, "balance history row at %d (transfer %v) has %v, transfers give %v",
					b.Timestamp, t.ID, rowSums(b), r.sums)
				return nil
			}
		} else if !v.release(a, &r, row) {
			return nil
		}
		last = b
		rows.pop()
	}
}

// release checks row, a balance history row of a at no transfer of it,
// against the release of an expired hold of a, which it names (or no
// transfer, as a release written before the SQL stores' migration 0002),
// counts that release in r, and reports whether row passes.
func (v *verifier) release(a *Account, r *replay, row *BalanceRow) bool {
	b := &row.AccountBalance
	p := r.expiry(v, a.ID, row)
	switch {
	case p == nil:
		v.add(a.ID, ID{}, "balance history row at %d (no transfer of it) has %v, which the release of no expired hold gives from %v",
			b.Timestamp, rowSums(b), r.sums)
		return false
	case !row.TransferID.IsZero() && row.TransferID != p.t.ID:
		v.add(a.ID, ID{}, "balance history row at %d releases %v, but names transfer %v", b.Timestamp, p.t.ID, row.TransferID)
		return false
	case b.Timestamp < p.t.ExpiresAt():
		v.add(a.ID, ID{}, "balance history row at %d releases %v, which expires at %d", b.Timestamp, p.t.ID, p.t.ExpiresAt())
		return false
	}
	// A release takes a timestamp of its own, or that of the post or void
	// that found the hold expired and failed with a result that no record
	// keeps: never that of a transfer, an account or a failed-transfer
	// record.
	if i, found := slices.BinarySearchFunc(v.stamps, stamp{ts: b.Timestamp}, stamp.compare); found {
		v.add(a.ID, ID{}, "balance history row at %d releases %v at the timestamp of transfer %v", b.Timestamp, p.t.ID, v.stamps[i].id)
		return false
	}
	if id, found := v.createdAt[b.Timestamp]; found {
		v.add(a.ID, ID{}, "balance history row at %d releases %v at the timestamp of account %v", b.Timestamp, p.t.ID, id)
		return false
	}
	if id, found := v.failedAt[b.Timestamp]; found {
		v.add(a.ID, ID{}, "balance history row at %d releases %v at the timestamp of failed-transfer record %v", b.Timestamp, p.t.ID, id)
		return false
	}
	if row.TransferID == p.t.ID && !v.released(a.ID, p, b.Timestamp) {
		return false
	}
	r.release(a.ID, p)
	return true
}

// releaseRow is the first balance history row, by account, that names
// the release of a hold: its account and timestamp, if seen.
type releaseRow struct {
	account ID
	ts      uint64
	seen    bool
}

// released checks a balance history row of account id at ts that names
// the release of hold p against those of the accounts read before it
// that name a release (a release that names none is not identified for
// certain, and is left out): the ledger releases each hold at a timestamp
// of its own, in the histories of both its accounts. It reports whether
// the row passes.
func (v *verifier) released(id ID, p *verifyPending, ts uint64) bool {
	first := p.releasedBy
	if first.seen && first.ts != ts {
		v.add(id, ID{}, "balance history row at %d releases %v, released at %d in the history of account %v", ts, p.t.ID, first.ts, first.account)
		return false
	}
	if v.releasedAt == nil {
		// Each hold such a row names has expired and names an account
		// with AccountHistory: one entry for each at most.
		v.releasedAt = make(map[uint64]ID, v.expired)
	}
	if other, ok := v.releasedAt[ts]; ok && other != p.t.ID {
		v.add(id, ID{}, "balance history row at %d releases %v at the timestamp of the release of %v", ts, p.t.ID, other)
		return false
	}
	if !first.seen {
		p.releasedBy = releaseRow{id, ts, true}
		v.releasedAt[ts] = p.t.ID
	}
	return true
}
