package ledger

import (
	"cmp"
	"container/heap"
	"fmt"
	"maps"
	"math/bits"
	"slices"
)

// verifier makes Verify's checks over the contents of one snapshot, read
// in Verify's order, and lists the problems it finds in that order.
type verifier struct {
	problems []Problem

	accounts   map[ID]*Account
	computed   map[ID]*balances
	createdAt  map[uint64]ID // the first account, by ID, created at each timestamp
	states     map[ID]Pending
	pendings   map[ID]*verifyPending
	expiring   byExpiry      // the pending transfers read that hold their amounts and expire
	lastTS     uint64        // of the transfer read last
	latest     uint64        // the greatest timestamp of the rows read but pending states (their transfers')
	transfers  []ID          // the valid IDs of the transfers read (sorted and unique once all are)
	stamps     []stamp       // the timestamp and ID of each transfer read (sorted by timestamp once all are)
	failedAt   map[uint64]ID // the first failed-transfer record, by ID, at each timestamp
	expired    int           // the pending transfers read whose state is expired and that name an account with AccountHistory
	releasedAt map[uint64]ID // the hold whose release a balance history row names, at each timestamp (sized once, to expired)
	perLedger  map[uint32]*ledgerSums
	ids        []ID // of the accounts, in ascending order
}

// verify checks the contents of tx, as Verify documents, and returns the
// problems it found.
func verify(tx ReadTx) ([]Problem, error) {
	v := &verifier{
		accounts:  make(map[ID]*Account),
		computed:  make(map[ID]*balances),
		createdAt: make(map[uint64]ID),
		failedAt:  make(map[uint64]ID),
		states:    make(map[ID]Pending),
		pendings:  make(map[ID]*verifyPending),
		perLedger: make(map[uint32]*ledgerSums),
	}
	err := tx.ForEachAccount(func(a Account) error {
		v.stamped(a.Timestamp)
		v.ids = append(v.ids, a.ID)
		v.accounts[a.ID] = &a
		v.computed[a.ID] = &balances{history: a.Flags&AccountHistory != 0}
		if _, ok := v.createdAt[a.Timestamp]; !ok {
			v.createdAt[a.Timestamp] = a.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.ForEachPending(func(p Pending) error {
		v.states[p.ID] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tx.ForEachTransfer(v.transfer); err != nil {
		return nil, err
	}
	v.transfers = sortUnique(v.transfers)
	// Stored in ascending timestamp order, unless the store is corrupt.
	if !slices.IsSortedFunc(v.stamps, stamp.compare) {
		slices.SortStableFunc(v.stamps, stamp.compare)
	}
	if err := tx.ForEachFailed(v.failed); err != nil {
		return nil, err
	}
	last, err := tx.LastTimestamp()
	if err != nil {
		return nil, err
	}
	v.pendingStates(last)
	if err := tx.ForEachAccount(v.account); err != nil {
		return nil, err
	}
	if err := v.balanceHistories(tx); err != nil {
		return nil, err
	}
	v.ledgers()
	// The ledger assigns the next timestamps after last: none is within
	// the limit when last is above it.
	if last > TimestampLimit {
		v.add(ID{}, ID{}, "last timestamp %d above the limit", last)
	}
	if last < v.latest {
		v.add(ID{}, ID{}, "last timestamp %d below %d, a stored timestamp", last, v.latest)
	}
	return v.problems, nil
}

// failed checks f, a failed-transfer record read after every transfer
// and every record of a lower ID. The ledger records, at the timestamp it
// assigned the event (no other event's), the valid ID of a transfer that
// failed with a transient result and that it did not create, and creates
// none whose ID it recorded.
func (v *verifier) failed(f FailedTransfer) error {
	v.stamped(f.Timestamp)
	if !f.ID.Valid() {
		v.add(ID{}, f.ID, "failed-transfer record has reserved ID %v", f.ID)
	}
	if !f.Result.Transient() {
		v.add(ID{}, f.ID, "failed-transfer record has result %v, not a transient one", f.Result)
	}
	switch {
	case f.Timestamp == 0:
		v.add(ID{}, f.ID, "failed-transfer record has timestamp zero")
	case f.Timestamp > TimestampLimit:
		v.add(ID{}, f.ID, "failed-transfer record has timestamp %d above the limit", f.Timestamp)
	}
	if a, ok := v.createdAt[f.Timestamp]; ok {
		v.add(ID{}, f.ID, "failed-transfer record has timestamp %d, also that of account %v", f.Timestamp, a)
	}
	if i, found := slices.BinarySearchFunc(v.stamps, stamp{ts: f.Timestamp}, stamp.compare); found {
		v.add(ID{}, f.ID, "failed-transfer record has timestamp %d, also that of transfer %v", f.Timestamp, v.stamps[i].id)
	}
	if first, ok := v.failedAt[f.Timestamp]; ok {
		v.add(ID{}, f.ID, "failed-transfer record has timestamp %d, also that of failed-transfer record %v", f.Timestamp, first)
	} else {
		v.failedAt[f.Timestamp] = f.ID
	}
	if _, found := slices.BinarySearchFunc(v.transfers, f.ID, ID.Compare); found {
		v.add(ID{}, f.ID, "also recorded as failed with %v", f.Result)
	}
	return nil
}

// stamp is the timestamp of a transfer and its ID.
type stamp struct {
	ts uint64
	id ID
}

func (s stamp) compare(t stamp) int { return cmp.Compare(s.ts, t.ts) }

// stamped counts ts, the timestamp of a row read, in the greatest one.
func (v *verifier) stamped(ts uint64) { v.latest = max(v.latest, ts) }

func (v *verifier) add(a, t ID, format string, args ...any) {
	v.problems = append(v.problems, Problem{AccountID: a, TransferID: t, Detail: fmt.Sprintf(format, args...)})
}

// balances are an account's balances as its transfers give them, with
// whether it has AccountHistory and what Verify checks its AccountClosed
// flag against: whether transfers name it, and the active pending
// transfers that close it (how many, and the first of them by timestamp).
type balances struct {
	sums
	history bool
	named   bool
	closers int
	closer  ID

	// As of the transfer read last: the pending transfer that closes the
	// account, until a post or void of it, and the amounts that pending
	// transfers hold, each until its post or void or its expiry (the
	// earliest the ledger releases it).
	closedBy *verifyPending
	held     struct{ dp, cp uint64 }
}

// sums are an account's four balances, debits and credits, pending and
// posted: as its transfers give them, or as a store holds them.
type sums struct{ dp, dpo, cp, cpo uint64 }

func (s sums) String() string {
	return fmt.Sprintf("dp=%d dpo=%d cp=%d cpo=%d", s.dp, s.dpo, s.cp, s.cpo)
}

// accountSums returns the balances that a holds.
func accountSums(a *Account) sums {
	return sums{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

// rowSums returns the balances of b, a balance history row.
func rowSums(b *AccountBalance) sums {
	return sums{b.DebitsPending, b.DebitsPosted, b.CreditsPending, b.CreditsPosted}
}

// close counts p, an active pending transfer, among those that close b.
func (b *balances) close(p ID) {
	if b.closers == 0 {
		b.closer = p
	}
	b.closers++
}

// verifyPending is a pending transfer that Verify read: the balances of
// its accounts (of none, for a missing account), the amount it holds in
// their held balances (none once released), how many transfers resolve
// it, and the first balance history row, by account, that names its
// release.
type verifyPending struct {
	t          Transfer
	dr, cr     *balances
	held       uint64
	resolved   int
	releasedBy releaseRow
}

// release releases what p holds in its accounts' held balances.
func (p *verifyPending) release() {
	p.dr.held.dp -= p.held
	p.cr.held.cp -= p.held
	p.held = 0
}

// byExpiry is a min-heap of pending transfers by ExpiresAt, and then by
// Timestamp, the order in which the ledger releases them.
type byExpiry []*verifyPending

func (h byExpiry) Len() int           { return len(h) }
func (h byExpiry) Less(i, j int) bool { return h.less(h[i], h[j]) }
func (byExpiry) less(p, q *verifyPending) bool {
	return p.t.ExpiresAt() < q.t.ExpiresAt() || p.t.ExpiresAt() == q.t.ExpiresAt() && p.t.Timestamp < q.t.Timestamp
}
func (h byExpiry) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *byExpiry) Push(x any)   { *h = append(*h, x.(*verifyPending)) }
func (h *byExpiry) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// transfer checks t, read after every transfer stamped before it, and
// counts it in the balances.
func (v *verifier) transfer(t Transfer) error {
	if t.ID.Valid() {
		v.transfers = append(v.transfers, t.ID)
	}
	v.stamped(t.Timestamp)
	v.stamps = append(v.stamps, stamp{t.Timestamp, t.ID})
	for len(v.expiring) > 0 && v.expiring[0].t.ExpiresAt() <= t.Timestamp {
		heap.Pop(&v.expiring).(*verifyPending).release()
	}
	if t.Timestamp <= v.lastTS {
		v.add(ID{}, t.ID, "timestamp %d not after %d", t.Timestamp, v.lastTS)
	}
	v.lastTS = t.Timestamp
	if t.Timestamp > TimestampLimit {
		v.add(ID{}, t.ID, "timestamp %d above the limit", t.Timestamp)
	}
	if a, ok := v.createdAt[t.Timestamp]; ok {
		v.add(ID{}, t.ID, "timestamp %d also that of account %v", t.Timestamp, a)
	}
	if !t.ID.Valid() {
		v.add(ID{}, t.ID, "reserved transfer ID %v", t.ID)
	}
	if f := t.Flags &^ transferKnownFlags; f != 0 {
		v.add(ID{}, t.ID, "reserved flags %#x", f)
	}
	// An amount above the limit is left out of the balances; the
	// transfer's other checks stand.
	amount := t.Amount
	if amount > AmountLimit {
		v.add(ID{}, t.ID, "amount %d above the limit", t.Amount)
		amount = 0
	}
	// The account that exists takes the transfer of one that is missing,
	// whose share is counted nowhere; the transfer's other checks stand.
	dr, drOK := v.computed[t.DebitAccountID]
	cr, crOK := v.computed[t.CreditAccountID]
	if !drOK || !crOK {
		v.add(ID{}, t.ID, "refers to a missing account")
	}
	if !drOK {
		dr = &balances{}
	}
	if !crOK {
		cr = &balances{}
	}
	dr.named, cr.named = true, true
	v.named(t)
	if (drOK && v.accounts[t.DebitAccountID].Ledger != t.Ledger) || (crOK && v.accounts[t.CreditAccountID].Ledger != t.Ledger) {
		v.add(ID{}, t.ID, "ledger %d differs from its accounts'", t.Ledger)
	}
	// The ledger takes a transfer with a post or void flag for a post or
	// void, whatever its other flags, and refuses it when they exclude one
	// another.
	resolves := t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0
	if resolves && resolutionFlagsExclusive(t.Flags) {
		v.add(ID{}, t.ID, "flags %#x are mutually exclusive", t.Flags)
	}
	if t.Timeout != 0 && (resolves || t.Flags&TransferPending == 0) {
		v.add(ID{}, t.ID, "timeout %d on a transfer that is not pending", t.Timeout)
	}
	if closing := t.Flags & (TransferClosingDebit | TransferClosingCredit); closing != 0 && !resolves && t.Flags&TransferPending == 0 {
		v.add(ID{}, t.ID, "closing flags %#x on a transfer that is not pending", closing)
	}
	// A post or void takes the code of its pending transfer, and is
	// checked against it (resolution).
	if !resolves && !t.PendingID.IsZero() {
		v.add(ID{}, t.ID, "pending ID %v on a transfer that is not a post or void", t.PendingID)
	}
	if !resolves && t.Code == 0 {
		v.add(ID{}, t.ID, "code zero")
	}
	if t.DebitAccountID == t.CreditAccountID {
		v.add(ID{}, t.ID, "debits and credits the same account")
	}
	switch {
	case resolves:
		v.resolution(t, amount, dr, cr)
	case t.Flags&TransferPending != 0:
		v.limits(t, amount, dr, cr)
		v.pending(t, amount, dr, cr)
	default:
		v.limits(t, amount, dr, cr)
		dr.dpo += amount
		cr.cpo += amount
	}
	return nil
}

// named checks that each account t names, once, was created before it
// and was open. A pending transfer that closes an account keeps it
// closed until it is voided or expires, and only a void moves on a closed
// account (a post of that transfer is reported by resolution).
func (v *verifier) named(t Transfer) {
	void := t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) == TransferVoidPendingTransfer
	for i, id := range []ID{t.DebitAccountID, t.CreditAccountID} {
		a := v.accounts[id]
		if a == nil || (i == 1 && id == t.DebitAccountID) {
			continue
		}
		if a.Timestamp >= t.Timestamp {
			v.add(ID{}, t.ID, "names account %v, created at %d", id, a.Timestamp)
		}
		c := v.computed[id].closedBy
		if c != nil && !void && (c.t.ExpiresAt() == 0 || t.Timestamp < c.t.ExpiresAt()) &&
			(t.Flags&TransferPostPendingTransfer == 0 || t.PendingID != c.t.ID) {
			v.add(ID{}, t.ID, "names account %v, closed by %v", id, c.t.ID)
		}
	}
}

// limits makes the checks that the ledger makes when it creates t, a
// transfer that is not a post or void, of amount, on the balances dr and
// cr of its accounts as they were: the held amounts the least they can
// have been. A balancing transfer moves no more than keeps its side
// within the opposite one, if anything.
func (v *verifier) limits(t Transfer, amount uint64, dr, cr *balances) {
	for _, side := range [...]struct {
		a              *Account
		name, opposite string
		total, against uint64 // the side's pending and posted, the opposite side's posted
		limit          AccountFlags
		balancing      TransferFlags
	}{
		{v.accounts[t.DebitAccountID], "debits", "credits", dr.held.dp + dr.dpo + amount, dr.cpo,
			AccountDebitsMustNotExceedCredits, TransferBalancingDebit},
		{v.accounts[t.CreditAccountID], "credits", "debits", cr.held.cp + cr.cpo + amount, cr.dpo,
			AccountCreditsMustNotExceedDebits, TransferBalancingCredit},
	} {
		switch {
		case side.a == nil:
		case side.total > AmountLimit:
			v.add(ID{}, t.ID, "takes the %s of account %v to %d, above the limit", side.name, side.a.ID, side.total)
		case (side.a.Flags&side.limit != 0 || (t.Flags&side.balancing != 0 && amount > 0)) && side.total > side.against:
			v.add(ID{}, t.ID, "takes the %s of account %v to %d, past its %s %d",
				side.name, side.a.ID, side.total, side.opposite, side.against)
		}
	}
}

// pending records t, a pending transfer of amount, checks it against its
// pending state, and counts it in dr and cr, the balances of its
// accounts.
func (v *verifier) pending(t Transfer, amount uint64, dr, cr *balances) {
	p := &verifyPending{t: t, dr: dr, cr: cr, held: amount}
	v.pendings[t.ID] = p
	dr.held.dp += amount
	cr.held.cp += amount
	if t.ExpiresAt() != 0 {
		heap.Push(&v.expiring, p)
	}
	if t.Flags&TransferClosingDebit != 0 {
		dr.closedBy = p
	}
	if t.Flags&TransferClosingCredit != 0 {
		cr.closedBy = p
	}
	if e := t.ExpiresAt(); e > TimestampLimit {
		v.add(ID{}, t.ID, "expires at %d, past the timestamp limit", e)
	}
	s, ok := v.states[t.ID]
	if !ok {
		v.add(ID{}, t.ID, "pending transfer without a pending state")
		return
	}
	if s.ExpiresAt != t.ExpiresAt() {
		v.add(ID{}, t.ID, "pending state expires at %d, transfer at %d", s.ExpiresAt, t.ExpiresAt())
	}
	if s.Timestamp != t.Timestamp {
		v.add(ID{}, t.ID, "pending state has timestamp %d, transfer %d", s.Timestamp, t.Timestamp)
	}
	if s.Status == PendingActive {
		dr.dp += amount
		cr.cp += amount
		if t.Flags&TransferClosingDebit != 0 {
			dr.close(t.ID)
		}
		if t.Flags&TransferClosingCredit != 0 {
			cr.close(t.ID)
		}
	}
	if s.Status == PendingExpired && s.ExpiresAt == 0 {
		v.add(ID{}, t.ID, "expired without a timeout")
	}
	if s.Status == PendingExpired && (dr.history || cr.history) {
		v.expired++
	}
}

// resolution checks t, a post or void that moves amount, against the
// pending transfer it resolves, and counts it in dr and cr, the balances
// of its accounts.
func (v *verifier) resolution(t Transfer, amount uint64, dr, cr *balances) {
	p := v.pendings[t.PendingID]
	if p == nil {
		v.add(ID{}, t.ID, "resolves %v, which is not an earlier pending transfer", t.PendingID)
		return
	}
	p.resolved++
	p.release()
	for _, b := range []*balances{p.dr, p.cr} {
		if b.closedBy == p {
			b.closedBy = nil
		}
	}
	// The ledger expires a pending transfer at the first event at or
	// after its expiry, before any post or void of it.
	if e := p.t.ExpiresAt(); e != 0 && t.Timestamp >= e {
		v.add(ID{}, t.ID, "resolves %v, which expired at %d", t.PendingID, e)
	}
	want := PendingVoided
	if t.Flags&TransferPostPendingTransfer != 0 {
		want = PendingPosted
		// The account it closes stays closed until it is voided or
		// expires, and the ledger posts to no closed account.
		if p.t.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
			v.add(ID{}, t.ID, "posts %v, which closes an account", t.PendingID)
		}
		dr.dpo += amount
		cr.cpo += amount
	}
	// A pending transfer without a state is reported as such, once.
	if s, ok := v.states[t.PendingID]; ok && s.Status != want {
		v.add(ID{}, t.ID, "pending transfer %v is %v, want %v", t.PendingID, s.Status, want)
	}
	// The ledger copies the pending transfer's accounts, ledger and code,
	// and stores a void of its whole amount.
	if p.t.DebitAccountID != t.DebitAccountID || p.t.CreditAccountID != t.CreditAccountID {
		v.add(ID{}, t.ID, "has other accounts than its pending transfer %v", t.PendingID)
	}
	switch {
	case want == PendingPosted && t.Amount > p.t.Amount:
		v.add(ID{}, t.ID, "posts %d, more than its pending transfer %v holds (%d)", t.Amount, t.PendingID, p.t.Amount)
	case want == PendingVoided && t.Amount != p.t.Amount:
		v.add(ID{}, t.ID, "voids %d, where its pending transfer %v holds %d", t.Amount, t.PendingID, p.t.Amount)
	}
	if t.Ledger != p.t.Ledger || t.Code != p.t.Code {
		v.add(ID{}, t.ID, "has ledger %d and code %d, its pending transfer %v ledger %d and code %d",
			t.Ledger, t.Code, t.PendingID, p.t.Ledger, p.t.Code)
	}
}

// pendingStates checks the pending states and the pending transfers
// against each other, in ascending ID order, so that every run lists the
// same problems in the same order, and that each expired one expired by
// last, the last timestamp: the ledger expires a hold at a timestamp it
// assigns, at or after its expiry.
func (v *verifier) pendingStates(last uint64) {
	ids := sortUnique(slices.AppendSeq(slices.Collect(maps.Keys(v.states)), maps.Keys(v.pendings)))
	for _, id := range ids {
		s, stated := v.states[id]
		if stated && (s.Status < PendingActive || s.Status > PendingExpired) {
			v.add(ID{}, id, "pending state has status %v", s.Status)
		}
		if stated && s.Status == PendingExpired && s.ExpiresAt > last {
			v.add(ID{}, id, "expired at %d, past the last timestamp %d", s.ExpiresAt, last)
		}
		p := v.pendings[id]
		if p == nil {
			v.add(ID{}, id, "pending state without a pending transfer")
			continue
		}
		want := 0
		if s.Status == PendingPosted || s.Status == PendingVoided {
			want = 1
		}
		// Without a state (reported with the transfer), only being
		// resolved more than once is another problem.
		switch {
		case stated && p.resolved != want:
			v.add(ID{}, id, "pending transfer is %v but resolved %d time(s)", s.Status, p.resolved)
		case !stated && p.resolved > 1:
			v.add(ID{}, id, "pending transfer without a pending state resolved %d time(s)", p.resolved)
		}
	}
}

// ledgerSums are the sums of a ledger's balances, 128-bit, [hi, lo].
type ledgerSums struct{ dp, dpo, cp, cpo [2]uint64 }

// add128 adds x to the 128-bit sum s.
func add128(s *[2]uint64, x uint64) {
	var c uint64
	s[1], c = bits.Add64(s[1], x, 0)
	s[0] += c
}

// account checks a, read after every transfer, and adds its balances to
// its ledger's sums.
func (v *verifier) account(a Account) error {
	c := v.computed[a.ID]
	if c == nil {
		return nil // created after the first pass cannot happen in one snapshot
	}
	if !a.ID.Valid() {
		v.add(a.ID, ID{}, "reserved account ID %v", a.ID)
	}
	switch {
	case a.Timestamp == 0:
		v.add(a.ID, ID{}, "timestamp zero")
	case a.Timestamp > TimestampLimit:
		v.add(a.ID, ID{}, "timestamp %d above the limit", a.Timestamp)
	}
	if first := v.createdAt[a.Timestamp]; first != a.ID {
		v.add(a.ID, ID{}, "timestamp %d also that of account %v", a.Timestamp, first)
	}
	if f := a.Flags &^ accountKnownFlags; f != 0 {
		v.add(a.ID, ID{}, "reserved flags %#x", f)
	}
	if limits := AccountDebitsMustNotExceedCredits | AccountCreditsMustNotExceedDebits; a.Flags&limits == limits {
		v.add(a.ID, ID{}, "flags %#x are mutually exclusive", limits)
	}
	if a.Ledger == 0 {
		v.add(a.ID, ID{}, "ledger zero")
	}
	if a.Code == 0 {
		v.add(a.ID, ID{}, "code zero")
	}
	if stored := accountSums(&a); stored != c.sums {
		v.add(a.ID, ID{}, "stored balances %v, transfers give %v", stored, c.sums)
	}
	for _, b := range []uint64{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted,
		a.DebitsPending + a.DebitsPosted, a.CreditsPending + a.CreditsPosted} {
		if b > AmountLimit {
			v.add(a.ID, ID{}, "balance %d above the limit", b)
		}
	}
	// A closing pending transfer closes an open account, and only its void
	// or expiry reopens it; an account created closed takes no transfer.
	closed := a.Flags&AccountClosed != 0
	switch {
	case c.closers > 1:
		v.add(a.ID, ID{}, "closed by %d active pending transfers, %v the first", c.closers, c.closer)
	case c.closers == 1 && !closed:
		v.add(a.ID, ID{}, "not flagged closed, but pending transfer %v closes it", c.closer)
	case c.closers == 0 && closed && c.named:
		v.add(a.ID, ID{}, "flagged closed, but no active pending transfer closes it and transfers name it")
	}
	if a.Flags&AccountDebitsMustNotExceedCredits != 0 && a.DebitsPending+a.DebitsPosted > a.CreditsPosted {
		v.add(a.ID, ID{}, "debits %d exceed credits %d", a.DebitsPending+a.DebitsPosted, a.CreditsPosted)
	}
	if a.Flags&AccountCreditsMustNotExceedDebits != 0 && a.CreditsPending+a.CreditsPosted > a.DebitsPosted {
		v.add(a.ID, ID{}, "credits %d exceed debits %d", a.CreditsPending+a.CreditsPosted, a.DebitsPosted)
	}
	s := v.perLedger[a.Ledger]
	if s == nil {
		s = &ledgerSums{}
		v.perLedger[a.Ledger] = s
	}
	add128(&s.dp, a.DebitsPending)
	add128(&s.dpo, a.DebitsPosted)
	add128(&s.cp, a.CreditsPending)
	add128(&s.cpo, a.CreditsPosted)
	return nil
}

// ledgers checks that the debits and credits of each ledger balance, in
// ascending ledger order.
func (v *verifier) ledgers() {
	for _, ledger := range slices.Sorted(maps.Keys(v.perLedger)) {
		s := v.perLedger[ledger]
		if s.dp != s.cp {
			v.add(ID{}, ID{}, "ledger %d: debits pending %v differ from credits pending %v", ledger, s.dp, s.cp)
		}
		if s.dpo != s.cpo {
			v.add(ID{}, ID{}, "ledger %d: debits posted %v differ from credits posted %v", ledger, s.dpo, s.cpo)
		}
	}
}
