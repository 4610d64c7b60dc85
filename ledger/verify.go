package ledger

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// VerifyError lists every inconsistency Verify found. errors.Is(err,
// ErrCorrupt) holds for it.
type VerifyError struct {
	Problems []Problem
}

// Problem is one inconsistency: what is wrong, and the account or transfer
// concerned (zero when not applicable).
type Problem struct {
	AccountID  ID
	TransferID ID
	Detail     string
}

// String describes the problem, naming the account or transfer.
func (p Problem) String() string {
	var b strings.Builder
	if !p.AccountID.IsZero() {
		fmt.Fprintf(&b, "account %v: ", p.AccountID)
	}
	if !p.TransferID.IsZero() {
		fmt.Fprintf(&b, "transfer %v: ", p.TransferID)
	}
	b.WriteString(p.Detail)
	return b.String()
}

// maxReported bounds the problems listed in an error message.
const maxReported = 5

// Error lists the count and the first few problems.
func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger: verify found %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == maxReported {
			b.WriteString("; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is ErrCorrupt.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }

// balances are an account's balances as its transfers give them, with
// what Verify checks its AccountClosed flag against: whether transfers
// name it, and the active pending transfers that close it (how many, and
// the first of them by timestamp).
type balances struct {
	dp, dpo, cp, cpo uint64
	named            bool
	closers          int
	closer           ID

	// As of the transfer read last: the pending transfer that closes the
	// account, until a post or void of it, and the amounts that pending
	// transfers hold, each until its post or void or its expiry (the
	// earliest the ledger releases it).
	closedBy *verifyPending
	held     struct{ dp, cp uint64 }
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
// their held balances (none once released) and how many transfers
// resolve it.
type verifyPending struct {
	t        Transfer
	dr, cr   *balances
	held     uint64
	resolved int
}

// release releases what p holds in its accounts' held balances.
func (p *verifyPending) release() {
	p.dr.held.dp -= p.held
	p.cr.held.cp -= p.held
	p.held = 0
}

// byExpiry is a min-heap of pending transfers by ExpiresAt.
type byExpiry []*verifyPending

func (h byExpiry) Len() int           { return len(h) }
func (h byExpiry) Less(i, j int) bool { return h[i].t.ExpiresAt() < h[j].t.ExpiresAt() }
func (h byExpiry) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byExpiry) Push(x any)        { *h = append(*h, x.(*verifyPending)) }
func (h *byExpiry) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// Verify recomputes every account balance from the immutable transfers and
// the states of pending transfers, in one consistent snapshot, and checks:
//   - an account has a valid ID (ID.Valid), no reserved flag, at most one
//     of the limit flags, a ledger and a code;
//   - each stored balance equals the recomputed one; per ledger, the sum of
//     debits equals the sum of credits, pending and posted; the limit flags
//     hold; no amount or balance exceeds AmountLimit (an amount above it
//     is left out of the balances, and its transfer checked as any other);
//   - the limit flags and AmountLimit held when each transfer that is not
//     a post or void was created, on the balances its accounts had then
//     (a pending transfer holds its amount until its post or void or its
//     expiry, the earliest the ledger can have released it), and a
//     balancing transfer moved no more than kept its side within the
//     opposite one;
//   - a transfer has a valid ID (ID.Valid), not also recorded as failed,
//     no reserved flag, a code, and two different accounts; a pending ID
//     only when it is a post or void;
//   - timestamps are at most TimestampLimit, those of transfers strictly
//     increase, and no two events (accounts, transfers) share one; an
//     account's is not zero; a pending transfer expires by the limit;
//   - every transfer refers to existing accounts of its ledger (one that
//     exists takes a transfer of one that is missing in its balances, and
//     the transfer is checked as any other), created before it and, unless
//     it is a void, not closed then by a pending transfer (from that one's
//     timestamp until its post or void, or its expiry); only a pending
//     transfer has a timeout or a closing flag (a post or void with one is
//     reported as below);
//   - a post or void (a transfer flagged either) has no flag that excludes
//     it (the other of the two, pending, balancing, closing) and resolves,
//     before its expiry, a pending transfer whose state agrees, with that
//     transfer's accounts, ledger and code, a void its whole amount and a
//     post at most that of one that closes no account, and no pending
//     transfer is resolved twice;
//   - every pending state belongs to a pending transfer, whose expiry and
//     timestamp it has, and is active, posted, voided or expired;
//   - an account has AccountClosed when an active pending transfer closes
//     it (TransferClosingDebit, TransferClosingCredit), never more than
//     one, and otherwise only when no transfer names it (created closed).
//
// A pending transfer without a pending state is one problem, whether
// transfers resolve it or not (more than one resolving it is another). It
// returns a *VerifyError listing what is wrong, the store's error, or
// ErrClosed after Close. The problems come in the same order for the same
// store contents: those of transfers in ascending timestamp order, those
// of transfers also recorded as failed in ascending ID order, those of
// pending states in ascending transfer ID order, those of accounts in
// ascending account ID order, then those of ledgers in ascending ledger
// order.
func (l *Ledger) Verify(ctx context.Context) error {
	if l.isClosed() {
		return ErrClosed
	}
	var problems []Problem
	add := func(a, t ID, format string, args ...any) {
		problems = append(problems, Problem{AccountID: a, TransferID: t, Detail: fmt.Sprintf(format, args...)})
	}
	err := l.store.View(ctx, func(tx ReadTx) error {
		problems = problems[:0]
		accounts := make(map[ID]*Account)
		computed := make(map[ID]*balances)
		// The first account, by ID, created at each timestamp.
		createdAt := make(map[uint64]ID)
		err := tx.ForEachAccount(func(a Account) error {
			accounts[a.ID] = &a
			computed[a.ID] = &balances{}
			if _, ok := createdAt[a.Timestamp]; !ok {
				createdAt[a.Timestamp] = a.ID
			}
			return nil
		})
		if err != nil {
			return err
		}
		states := make(map[ID]Pending)
		err = tx.ForEachPending(func(p Pending) error {
			states[p.ID] = p
			return nil
		})
		if err != nil {
			return err
		}
		pendings := make(map[ID]*verifyPending)
		var expiring byExpiry
		var lastTS uint64
		var transferIDs []ID
		err = tx.ForEachTransfer(func(t Transfer) error {
			if t.ID.Valid() {
				transferIDs = append(transferIDs, t.ID)
			}
			for len(expiring) > 0 && expiring[0].t.ExpiresAt() <= t.Timestamp {
				heap.Pop(&expiring).(*verifyPending).release()
			}
			if t.Timestamp <= lastTS {
				add(ID{}, t.ID, "timestamp %d not after %d", t.Timestamp, lastTS)
			}
			lastTS = t.Timestamp
			if t.Timestamp > TimestampLimit {
				add(ID{}, t.ID, "timestamp %d above the limit", t.Timestamp)
			}
			if a, ok := createdAt[t.Timestamp]; ok {
				add(ID{}, t.ID, "timestamp %d also that of account %v", t.Timestamp, a)
			}
			if !t.ID.Valid() {
				add(ID{}, t.ID, "reserved ID")
			}
			if f := t.Flags &^ transferKnownFlags; f != 0 {
				add(ID{}, t.ID, "reserved flags %#x", f)
			}
			// An amount above the limit is left out of the balances; the
			// transfer's other checks stand.
			amount := t.Amount
			if amount > AmountLimit {
				add(ID{}, t.ID, "amount %d above the limit", t.Amount)
				amount = 0
			}
			// The account that exists takes the transfer of one that is
			// missing, whose share is counted nowhere; the transfer's other
			// checks stand.
			dr, drOK := computed[t.DebitAccountID]
			cr, crOK := computed[t.CreditAccountID]
			if !drOK || !crOK {
				add(ID{}, t.ID, "refers to a missing account")
			}
			if !drOK {
				dr = &balances{}
			}
			if !crOK {
				cr = &balances{}
			}
			dr.named, cr.named = true, true
			// Each account the transfer names, once, was created before it
			// and was open. A pending transfer that closes an account keeps
			// it closed until it is voided or expires, and only a void
			// moves on a closed account (a post of that transfer is
			// reported below).
			void := t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) == TransferVoidPendingTransfer
			for i, id := range []ID{t.DebitAccountID, t.CreditAccountID} {
				a := accounts[id]
				if a == nil || (i == 1 && id == t.DebitAccountID) {
					continue
				}
				if a.Timestamp >= t.Timestamp {
					add(ID{}, t.ID, "names account %v, created at %d", id, a.Timestamp)
				}
				c := computed[id].closedBy
				if c != nil && !void && (c.t.ExpiresAt() == 0 || t.Timestamp < c.t.ExpiresAt()) &&
					(t.Flags&TransferPostPendingTransfer == 0 || t.PendingID != c.t.ID) {
					add(ID{}, t.ID, "names account %v, closed by %v", id, c.t.ID)
				}
			}
			if (drOK && accounts[t.DebitAccountID].Ledger != t.Ledger) || (crOK && accounts[t.CreditAccountID].Ledger != t.Ledger) {
				add(ID{}, t.ID, "ledger %d differs from its accounts'", t.Ledger)
			}
			// The ledger takes a transfer with a post or void flag for a
			// post or void, whatever its other flags, and refuses it when
			// they exclude one another.
			resolves := t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0
			if resolves && resolutionFlagsExclusive(t.Flags) {
				add(ID{}, t.ID, "flags %#x are mutually exclusive", t.Flags)
			}
			if t.Timeout != 0 && (resolves || t.Flags&TransferPending == 0) {
				add(ID{}, t.ID, "timeout %d on a transfer that is not pending", t.Timeout)
			}
			if closing := t.Flags & (TransferClosingDebit | TransferClosingCredit); closing != 0 && !resolves && t.Flags&TransferPending == 0 {
				add(ID{}, t.ID, "closing flags %#x on a transfer that is not pending", closing)
			}
			// A post or void takes the code of its pending transfer, and
			// is checked against it below.
			if !resolves && !t.PendingID.IsZero() {
				add(ID{}, t.ID, "pending ID %v on a transfer that is not a post or void", t.PendingID)
			}
			if !resolves && t.Code == 0 {
				add(ID{}, t.ID, "code zero")
			}
			if t.DebitAccountID == t.CreditAccountID {
				add(ID{}, t.ID, "debits and credits the same account")
			}
			// What the ledger checks when it creates a transfer that is
			// not a post or void, on the balances as they were: the held
			// amounts the least they can have been. A balancing transfer
			// moves no more than keeps its side within the opposite one,
			// if anything.
			if !resolves {
				for _, side := range [...]struct {
					a              *Account
					name, opposite string
					total, against uint64 // the side's pending and posted, the opposite side's posted
					limit          AccountFlags
					balancing      TransferFlags
				}{
					{accounts[t.DebitAccountID], "debits", "credits", dr.held.dp + dr.dpo + amount, dr.cpo,
						AccountDebitsMustNotExceedCredits, TransferBalancingDebit},
					{accounts[t.CreditAccountID], "credits", "debits", cr.held.cp + cr.cpo + amount, cr.dpo,
						AccountCreditsMustNotExceedDebits, TransferBalancingCredit},
				} {
					switch {
					case side.a == nil:
					case side.total > AmountLimit:
						add(ID{}, t.ID, "takes the %s of account %v to %d, above the limit", side.name, side.a.ID, side.total)
					case (side.a.Flags&side.limit != 0 || (t.Flags&side.balancing != 0 && amount > 0)) && side.total > side.against:
						add(ID{}, t.ID, "takes the %s of account %v to %d, past its %s %d",
							side.name, side.a.ID, side.total, side.opposite, side.against)
					}
				}
			}
			switch {
			case !resolves && t.Flags&TransferPending != 0:
				p := &verifyPending{t: t, dr: dr, cr: cr, held: amount}
				pendings[t.ID] = p
				dr.held.dp += amount
				cr.held.cp += amount
				if t.ExpiresAt() != 0 {
					heap.Push(&expiring, p)
				}
				if t.Flags&TransferClosingDebit != 0 {
					dr.closedBy = p
				}
				if t.Flags&TransferClosingCredit != 0 {
					cr.closedBy = p
				}
				if e := t.ExpiresAt(); e > TimestampLimit {
					add(ID{}, t.ID, "expires at %d, past the timestamp limit", e)
				}
				s, ok := states[t.ID]
				if !ok {
					add(ID{}, t.ID, "pending transfer without a pending state")
					return nil
				}
				if s.ExpiresAt != t.ExpiresAt() {
					add(ID{}, t.ID, "pending state expires at %d, transfer at %d", s.ExpiresAt, t.ExpiresAt())
				}
				if s.Timestamp != t.Timestamp {
					add(ID{}, t.ID, "pending state has timestamp %d, transfer %d", s.Timestamp, t.Timestamp)
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
					add(ID{}, t.ID, "expired without a timeout")
				}
			case resolves:
				p := pendings[t.PendingID]
				if p == nil {
					add(ID{}, t.ID, "resolves %v, which is not an earlier pending transfer", t.PendingID)
					return nil
				}
				p.resolved++
				p.release()
				for _, b := range []*balances{p.dr, p.cr} {
					if b.closedBy == p {
						b.closedBy = nil
					}
				}
				// The ledger expires a pending transfer at the first event
				// at or after its expiry, before any post or void of it.
				if e := p.t.ExpiresAt(); e != 0 && t.Timestamp >= e {
					add(ID{}, t.ID, "resolves %v, which expired at %d", t.PendingID, e)
				}
				want := PendingVoided
				if t.Flags&TransferPostPendingTransfer != 0 {
					want = PendingPosted
					// The account it closes stays closed until it is voided
					// or expires, and the ledger posts to no closed account.
					if p.t.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
						add(ID{}, t.ID, "posts %v, which closes an account", t.PendingID)
					}
					dr.dpo += amount
					cr.cpo += amount
				}
				// A pending transfer without a state is reported as such,
				// once.
				if s, ok := states[t.PendingID]; ok && s.Status != want {
					add(ID{}, t.ID, "pending transfer %v is %v, want %v", t.PendingID, s.Status, want)
				}
				// The ledger copies the pending transfer's accounts, ledger
				// and code, and stores a void of its whole amount.
				if p.t.DebitAccountID != t.DebitAccountID || p.t.CreditAccountID != t.CreditAccountID {
					add(ID{}, t.ID, "has other accounts than its pending transfer %v", t.PendingID)
				}
				switch {
				case want == PendingPosted && t.Amount > p.t.Amount:
					add(ID{}, t.ID, "posts %d, more than its pending transfer %v holds (%d)", t.Amount, t.PendingID, p.t.Amount)
				case want == PendingVoided && t.Amount != p.t.Amount:
					add(ID{}, t.ID, "voids %d, where its pending transfer %v holds %d", t.Amount, t.PendingID, p.t.Amount)
				}
				if t.Ledger != p.t.Ledger || t.Code != p.t.Code {
					add(ID{}, t.ID, "has ledger %d and code %d, its pending transfer %v ledger %d and code %d",
						t.Ledger, t.Code, t.PendingID, p.t.Ledger, p.t.Code)
				}
			default:
				dr.dpo += amount
				cr.cpo += amount
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The ledger records as failed only the ID of a transfer that it
		// did not create, and creates none whose ID it recorded.
		failed, err := tx.FailedTransfers(sortUnique(transferIDs))
		if err != nil {
			return err
		}
		slices.SortFunc(failed, func(x, y FailedTransfer) int { return x.ID.Compare(y.ID) })
		for _, f := range failed {
			add(ID{}, f.ID, "also recorded as failed with %v", f.Result)
		}
		// In ascending ID order, so that every run lists the same
		// problems in the same order.
		ids := make([]ID, 0, len(states)+len(pendings))
		for id := range states {
			ids = append(ids, id)
		}
		for id := range pendings {
			if _, ok := states[id]; !ok {
				ids = append(ids, id)
			}
		}
		sortIDs(ids)
		for _, id := range ids {
			s, stated := states[id]
			if stated && (s.Status < PendingActive || s.Status > PendingExpired) {
				add(ID{}, id, "pending state has status %v", s.Status)
			}
			p := pendings[id]
			if p == nil {
				add(ID{}, id, "pending state without a pending transfer")
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
				add(ID{}, id, "pending transfer is %v but resolved %d time(s)", s.Status, p.resolved)
			case !stated && p.resolved > 1:
				add(ID{}, id, "pending transfer without a pending state resolved %d time(s)", p.resolved)
			}
		}

		type sums struct{ dp, dpo, cp, cpo [2]uint64 } // 128-bit sums, [hi, lo]
		perLedger := make(map[uint32]*sums)
		add128 := func(s *[2]uint64, v uint64) {
			var c uint64
			s[1], c = bits.Add64(s[1], v, 0)
			s[0] += c
		}
		err = tx.ForEachAccount(func(a Account) error {
			c := computed[a.ID]
			if c == nil {
				return nil // created after the first pass cannot happen in one snapshot
			}
			if !a.ID.Valid() {
				add(a.ID, ID{}, "reserved ID")
			}
			switch {
			case a.Timestamp == 0:
				add(a.ID, ID{}, "timestamp zero")
			case a.Timestamp > TimestampLimit:
				add(a.ID, ID{}, "timestamp %d above the limit", a.Timestamp)
			}
			if first := createdAt[a.Timestamp]; first != a.ID {
				add(a.ID, ID{}, "timestamp %d also that of account %v", a.Timestamp, first)
			}
			if f := a.Flags &^ accountKnownFlags; f != 0 {
				add(a.ID, ID{}, "reserved flags %#x", f)
			}
			if limits := AccountDebitsMustNotExceedCredits | AccountCreditsMustNotExceedDebits; a.Flags&limits == limits {
				add(a.ID, ID{}, "flags %#x are mutually exclusive", limits)
			}
			if a.Ledger == 0 {
				add(a.ID, ID{}, "ledger zero")
			}
			if a.Code == 0 {
				add(a.ID, ID{}, "code zero")
			}
			if c.dp != a.DebitsPending || c.dpo != a.DebitsPosted || c.cp != a.CreditsPending || c.cpo != a.CreditsPosted {
				add(a.ID, ID{}, "stored balances dp=%d dpo=%d cp=%d cpo=%d, transfers give dp=%d dpo=%d cp=%d cpo=%d",
					a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted, c.dp, c.dpo, c.cp, c.cpo)
			}
			for _, v := range []uint64{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted,
				a.DebitsPending + a.DebitsPosted, a.CreditsPending + a.CreditsPosted} {
				if v > AmountLimit {
					add(a.ID, ID{}, "balance %d above the limit", v)
				}
			}
			// A closing pending transfer closes an open account, and only
			// its void or expiry reopens it; an account created closed
			// takes no transfer.
			closed := a.Flags&AccountClosed != 0
			switch {
			case c.closers > 1:
				add(a.ID, ID{}, "closed by %d active pending transfers, %v the first", c.closers, c.closer)
			case c.closers == 1 && !closed:
				add(a.ID, ID{}, "not flagged closed, but pending transfer %v closes it", c.closer)
			case c.closers == 0 && closed && c.named:
				add(a.ID, ID{}, "flagged closed, but no active pending transfer closes it and transfers name it")
			}
			if a.Flags&AccountDebitsMustNotExceedCredits != 0 && a.DebitsPending+a.DebitsPosted > a.CreditsPosted {
				add(a.ID, ID{}, "debits %d exceed credits %d", a.DebitsPending+a.DebitsPosted, a.CreditsPosted)
			}
			if a.Flags&AccountCreditsMustNotExceedDebits != 0 && a.CreditsPending+a.CreditsPosted > a.DebitsPosted {
				add(a.ID, ID{}, "credits %d exceed debits %d", a.CreditsPending+a.CreditsPosted, a.DebitsPosted)
			}
			s := perLedger[a.Ledger]
			if s == nil {
				s = &sums{}
				perLedger[a.Ledger] = s
			}
			add128(&s.dp, a.DebitsPending)
			add128(&s.dpo, a.DebitsPosted)
			add128(&s.cp, a.CreditsPending)
			add128(&s.cpo, a.CreditsPosted)
			return nil
		})
		if err != nil {
			return err
		}
		for _, ledger := range slices.Sorted(maps.Keys(perLedger)) {
			s := perLedger[ledger]
			if s.dp != s.cp {
				add(ID{}, ID{}, "ledger %d: debits pending %v differ from credits pending %v", ledger, s.dp, s.cp)
			}
			if s.dpo != s.cpo {
				add(ID{}, ID{}, "ledger %d: debits posted %v differ from credits posted %v", ledger, s.dpo, s.cpo)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &VerifyError{Problems: problems}
	}
	return nil
}
