package ledger

// createTransfer checks one transfer against the rules, in TigerBeetle's
// order of precedence, and applies it when every check passes. dr and cr
// are the locked accounts t.DebitAccountID and t.CreditAccountID, nil
// when they do not exist.
func (w *working) createTransfer(t *Transfer, ts uint64, dr, cr *workAccount) CreateTransferResult {
	if t.Timestamp != 0 {
		return TransferTimestampMustBeZero
	}
	if t.Flags&^transferKnownFlags != 0 {
		return TransferReservedFlag
	}
	if t.ID.IsZero() {
		return TransferIDMustNotBeZero
	}
	if t.ID == IDMax {
		return TransferIDMustNotBeIntMax
	}
	if e, ok := w.transfers[t.ID]; ok {
		return w.exists(t, e)
	}
	if _, ok := w.failed[t.ID]; ok {
		return TransferIDAlreadyFailed
	}
	if t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) != 0 {
		return w.postOrVoid(t, ts)
	}

	switch {
	case t.DebitAccountID.IsZero():
		return TransferDebitAccountIDMustNotBeZero
	case t.DebitAccountID == IDMax:
		return TransferDebitAccountIDMustNotBeIntMax
	case t.CreditAccountID.IsZero():
		return TransferCreditAccountIDMustNotBeZero
	case t.CreditAccountID == IDMax:
		return TransferCreditAccountIDMustNotBeIntMax
	case t.DebitAccountID == t.CreditAccountID:
		return TransferAccountsMustBeDifferent
	case !t.PendingID.IsZero():
		return TransferPendingIDMustBeZero
	}
	pending := t.Flags&TransferPending != 0
	balancing := t.Flags&(TransferBalancingDebit|TransferBalancingCredit) != 0
	if !pending {
		if t.Timeout != 0 {
			return TransferTimeoutReservedForPendingTransfer
		}
		if t.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
			return TransferClosingTransferMustBePending
		}
	}
	if t.Amount > AmountLimit && !(balancing && t.Amount == AmountMax) {
		return TransferAmountMustNotExceedLimit
	}
	switch {
	case t.Ledger == 0:
		return TransferLedgerMustNotBeZero
	case t.Code == 0:
		return TransferCodeMustNotBeZero
	}
	if dr == nil {
		return TransferDebitAccountNotFound
	}
	if cr == nil {
		return TransferCreditAccountNotFound
	}
	switch {
	case dr.Ledger != cr.Ledger:
		return TransferAccountsMustHaveTheSameLedger
	case t.Ledger != dr.Ledger:
		return TransferTransferMustHaveTheSameLedgerAsAccounts
	case dr.Flags&AccountClosed != 0:
		return TransferDebitAccountAlreadyClosed
	case cr.Flags&AccountClosed != 0:
		return TransferCreditAccountAlreadyClosed
	}

	amount := t.Amount
	if t.Flags&TransferBalancingDebit != 0 {
		amount = min(amount, sub0(dr.CreditsPosted, dr.DebitsPending+dr.DebitsPosted))
	}
	if t.Flags&TransferBalancingCredit != 0 {
		amount = min(amount, sub0(cr.DebitsPosted, cr.CreditsPending+cr.CreditsPosted))
	}
	if pending {
		if dr.DebitsPending > AmountLimit-amount {
			return TransferOverflowsDebitsPending
		}
		if cr.CreditsPending > AmountLimit-amount {
			return TransferOverflowsCreditsPending
		}
	}
	if dr.DebitsPosted > AmountLimit-amount {
		return TransferOverflowsDebitsPosted
	}
	if cr.CreditsPosted > AmountLimit-amount {
		return TransferOverflowsCreditsPosted
	}
	if dr.DebitsPending+dr.DebitsPosted > AmountLimit-amount {
		return TransferOverflowsDebits
	}
	if cr.CreditsPending+cr.CreditsPosted > AmountLimit-amount {
		return TransferOverflowsCredits
	}
	if pending && uint64(t.Timeout)*1e9 > TimestampLimit-ts {
		return TransferOverflowsTimeout
	}
	if dr.Flags&AccountDebitsMustNotExceedCredits != 0 && dr.DebitsPending+dr.DebitsPosted+amount > dr.CreditsPosted {
		return TransferExceedsCredits
	}
	if cr.Flags&AccountCreditsMustNotExceedDebits != 0 && cr.CreditsPending+cr.CreditsPosted+amount > cr.DebitsPosted {
		return TransferExceedsDebits
	}

	n := w.newTransfer(t)
	n.Amount = amount
	n.Timestamp = ts
	if pending {
		w.add(dr, amount, 0, 0, 0)
		w.add(cr, 0, 0, amount, 0)
		if t.Flags&TransferClosingDebit != 0 {
			w.toggleClosed(dr)
		}
		if t.Flags&TransferClosingCredit != 0 {
			w.toggleClosed(cr)
		}
		p := &workPending{Pending: Pending{ID: n.ID, Status: PendingActive, ExpiresAt: n.ExpiresAt(), Timestamp: n.Timestamp},
			isNew: true}
		w.pending[n.ID] = p
		if w.inChain {
			w.undo = append(w.undo, undo{newPending: true, id: n.ID})
		}
	} else {
		w.add(dr, 0, amount, 0, 0)
		w.add(cr, 0, 0, 0, amount)
	}
	w.insert(n, dr, cr)
	return TransferCreated
}

// newTransfer appends a copy of t to the transfers the batch creates and
// returns it, to be completed and then passed to insert.
func (w *working) newTransfer(t *Transfer) *Transfer {
	w.created = append(w.created, *t)
	return &w.created[len(w.created)-1]
}

// insert records n, the transfer newTransfer returned last, as created,
// and the history of its accounts.
func (w *working) insert(n *Transfer, dr, cr *workAccount) {
	if _, ok := w.needed[n.ID]; ok {
		w.transfers[n.ID] = &w.created[len(w.created)-1]
	}
	if w.inChain {
		w.undo = append(w.undo, undo{create: true, id: n.ID})
	}
	w.history = appendHistory(w.history, dr, n.Timestamp, n.ID)
	w.history = appendHistory(w.history, cr, n.Timestamp, n.ID)
}

// postOrVoid resolves a pending transfer.
func (w *working) postOrVoid(t *Transfer, ts uint64) CreateTransferResult {
	post := t.Flags&TransferPostPendingTransfer != 0
	if resolutionFlagsExclusive(t.Flags) {
		return TransferFlagsAreMutuallyExclusive
	}
	switch {
	case t.PendingID.IsZero():
		return TransferPendingIDMustNotBeZero
	case t.PendingID == IDMax:
		return TransferPendingIDMustNotBeIntMax
	case t.PendingID == t.ID:
		return TransferPendingIDMustBeDifferent
	case t.Timeout != 0:
		return TransferTimeoutReservedForPendingTransfer
	case t.Amount > AmountLimit && !(post && t.Amount == AmountMax):
		return TransferAmountMustNotExceedLimit
	}
	p := w.transfers[t.PendingID]
	if p == nil {
		return TransferPendingTransferNotFound
	}
	if p.Flags&TransferPending == 0 {
		return TransferPendingTransferNotPending
	}
	switch {
	case !t.DebitAccountID.IsZero() && t.DebitAccountID != p.DebitAccountID:
		return TransferPendingTransferHasDifferentDebitAccountID
	case !t.CreditAccountID.IsZero() && t.CreditAccountID != p.CreditAccountID:
		return TransferPendingTransferHasDifferentCreditAccountID
	case t.Ledger != 0 && t.Ledger != p.Ledger:
		return TransferPendingTransferHasDifferentLedger
	case t.Code != 0 && t.Code != p.Code:
		return TransferPendingTransferHasDifferentCode
	}
	amount := t.Amount
	switch {
	case post && amount == AmountMax:
		amount = p.Amount
	case !post && amount == 0:
		amount = p.Amount
	}
	if amount > p.Amount {
		return TransferExceedsPendingTransferAmount
	}
	if !post && amount < p.Amount {
		return TransferPendingTransferHasDifferentAmount
	}
	s := w.pending[p.ID]
	if s == nil {
		w.err = corrupt("pending transfer %v has no pending state", p.ID)
		return TransferPendingTransferNotFound
	}
	switch s.Status {
	case PendingPosted:
		return TransferPendingTransferAlreadyPosted
	case PendingVoided:
		return TransferPendingTransferAlreadyVoided
	case PendingExpired:
		return TransferPendingTransferExpired
	}
	if s.ExpiresAt != 0 && s.ExpiresAt <= ts && !s.isNew {
		// It expired during this batch, after the sweep: release it now.
		w.expire(p, s, ts)
		return TransferPendingTransferExpired
	}
	dr, cr := w.account(p.DebitAccountID), w.account(p.CreditAccountID)
	if dr == nil || cr == nil {
		w.err = corrupt("pending transfer %v refers to a missing account", p.ID)
		return TransferPendingTransferNotFound
	}
	if w.holdsMore(p, dr, cr) {
		return TransferPendingTransferNotFound
	}
	if post {
		// The only movement allowed on a closed account is a void: a
		// closing transfer itself can only be voided or expire.
		if dr.Flags&AccountClosed != 0 {
			return TransferDebitAccountAlreadyClosed
		}
		if cr.Flags&AccountClosed != 0 {
			return TransferCreditAccountAlreadyClosed
		}
		// Unreachable while the overflows_debits and overflows_credits
		// checks at creation hold; kept against damaged data.
		if dr.DebitsPosted > AmountLimit-amount {
			return TransferOverflowsDebitsPosted
		}
		if cr.CreditsPosted > AmountLimit-amount {
			return TransferOverflowsCreditsPosted
		}
	}

	n := w.newTransfer(&Transfer{
		ID:              t.ID,
		DebitAccountID:  p.DebitAccountID,
		CreditAccountID: p.CreditAccountID,
		Amount:          amount,
		PendingID:       p.ID,
		UserData128:     t.UserData128,
		UserData64:      t.UserData64,
		UserData32:      t.UserData32,
		Ledger:          p.Ledger,
		Code:            p.Code,
		Flags:           t.Flags,
		Timestamp:       ts,
	})
	if n.UserData128.IsZero() {
		n.UserData128 = p.UserData128
	}
	if n.UserData64 == 0 {
		n.UserData64 = p.UserData64
	}
	if n.UserData32 == 0 {
		n.UserData32 = p.UserData32
	}
	neg := -p.Amount // two's complement delta
	if post {
		w.add(dr, neg, amount, 0, 0)
		w.add(cr, 0, 0, neg, amount)
		w.setStatus(s, PendingPosted)
	} else {
		w.add(dr, neg, 0, 0, 0)
		w.add(cr, 0, 0, neg, 0)
		if p.Flags&TransferClosingDebit != 0 && dr.Flags&AccountClosed != 0 {
			w.toggleClosed(dr)
		}
		if p.Flags&TransferClosingCredit != 0 && cr.Flags&AccountClosed != 0 {
			w.toggleClosed(cr)
		}
		w.setStatus(s, PendingVoided)
	}
	w.insert(n, dr, cr)
	return TransferCreated
}

// resolutionFlagsExclusive reports whether f, the flags of a post or a
// void, holds flags that exclude one another: both a post and a void, or
// either with pending, balancing or closing.
func resolutionFlagsExclusive(f TransferFlags) bool {
	return f&(TransferPostPendingTransfer|TransferVoidPendingTransfer) == TransferPostPendingTransfer|TransferVoidPendingTransfer ||
		f&(TransferPending|TransferBalancingDebit|TransferBalancingCredit|TransferClosingDebit|TransferClosingCredit) != 0
}

// exists compares a transfer with the stored one of the same ID, in
// TigerBeetle's order. For a post or a void, fields the request leaves
// zero must match what the stored transfer took from its pending transfer.
func (w *working) exists(t, e *Transfer) CreateTransferResult {
	switch {
	case t.Flags != e.Flags:
		return TransferExistsWithDifferentFlags
	case t.PendingID != e.PendingID:
		return TransferExistsWithDifferentPendingID
	case t.Timeout != e.Timeout:
		return TransferExistsWithDifferentTimeout
	}
	if t.Flags&(TransferPostPendingTransfer|TransferVoidPendingTransfer) == 0 {
		switch {
		case t.DebitAccountID != e.DebitAccountID:
			return TransferExistsWithDifferentDebitAccountID
		case t.CreditAccountID != e.CreditAccountID:
			return TransferExistsWithDifferentCreditAccountID
		case t.Flags&(TransferBalancingDebit|TransferBalancingCredit) != 0 && t.Amount < e.Amount,
			t.Flags&(TransferBalancingDebit|TransferBalancingCredit) == 0 && t.Amount != e.Amount:
			return TransferExistsWithDifferentAmount
		case t.UserData128 != e.UserData128:
			return TransferExistsWithDifferentUserData128
		case t.UserData64 != e.UserData64:
			return TransferExistsWithDifferentUserData64
		case t.UserData32 != e.UserData32:
			return TransferExistsWithDifferentUserData32
		case t.Ledger != e.Ledger:
			return TransferExistsWithDifferentLedger
		case t.Code != e.Code:
			return TransferExistsWithDifferentCode
		}
		return TransferExists
	}
	p := w.transfers[e.PendingID]
	if p == nil {
		w.err = corrupt("transfer %v resolves %v, which is missing", e.ID, e.PendingID)
		return TransferExists
	}
	switch {
	case !t.DebitAccountID.IsZero() && t.DebitAccountID != e.DebitAccountID:
		return TransferExistsWithDifferentDebitAccountID
	case !t.CreditAccountID.IsZero() && t.CreditAccountID != e.CreditAccountID:
		return TransferExistsWithDifferentCreditAccountID
	}
	full := (t.Flags&TransferVoidPendingTransfer != 0 && t.Amount == 0) ||
		(t.Flags&TransferPostPendingTransfer != 0 && t.Amount == AmountMax)
	if (full && e.Amount != p.Amount) || (!full && t.Amount != e.Amount) {
		return TransferExistsWithDifferentAmount
	}
	switch {
	case t.UserData128.IsZero() && e.UserData128 != p.UserData128,
		!t.UserData128.IsZero() && t.UserData128 != e.UserData128:
		return TransferExistsWithDifferentUserData128
	case t.UserData64 == 0 && e.UserData64 != p.UserData64,
		t.UserData64 != 0 && t.UserData64 != e.UserData64:
		return TransferExistsWithDifferentUserData64
	case t.UserData32 == 0 && e.UserData32 != p.UserData32,
		t.UserData32 != 0 && t.UserData32 != e.UserData32:
		return TransferExistsWithDifferentUserData32
	case t.Ledger != 0 && t.Ledger != e.Ledger:
		return TransferExistsWithDifferentLedger
	case t.Code != 0 && t.Code != e.Code:
		return TransferExistsWithDifferentCode
	}
	return TransferExists
}

// sub0 returns a - b, or 0 when b > a.
func sub0(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
