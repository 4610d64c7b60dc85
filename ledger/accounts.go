package ledger

import (
	"slices"
)

// createAccounts applies the events of one request inside tx and returns
// one result per event. (Accounts are created one request per
// transaction; unlike transfers, requests are not merged into batches.)
func (l *Ledger) createAccounts(tx Tx, events []Account) ([]CreateAccountResult, error) {
	last, err := tx.LastTimestamp()
	if err != nil {
		return nil, err
	}
	ts := l.firstTimestamp(last)
	if err := timestampsFit(ts, len(events)); err != nil {
		return nil, err
	}

	ids := make([]ID, 0, len(events))
	for i := range events {
		if events[i].ID.Valid() {
			ids = append(ids, events[i].ID)
		}
	}
	ids = sortUnique(ids)
	stored, err := tx.Accounts(ids)
	if err != nil {
		return nil, err
	}
	known := make(map[ID]*Account, len(stored)+len(events))
	for i := range stored {
		known[stored[i].ID] = &stored[i]
	}

	results := make([]CreateAccountResult, len(events))
	created := make([]Account, 0, len(events))
	saved := 0 // len(created) when the chain opened
	applyLinked(results, []int{len(events)},
		chainResults[CreateAccountResult]{AccountCreated, AccountLinkedEventChainOpen, AccountLinkedEventFailed},
		chainHooks{
			open: func() { saved = len(created) },
			rollback: func() {
				for _, c := range created[saved:] {
					delete(known, c.ID)
				}
				created = created[:saved]
			},
		},
		func(i int) bool { return events[i].Flags&AccountLinked != 0 },
		func(i int) CreateAccountResult { return createAccount(&events[i], ts+uint64(i), known, &created) })

	if len(created) > 0 {
		if err := tx.InsertAccounts(created); err != nil {
			return nil, err
		}
	}
	if len(events) > 0 {
		if err := tx.SetLastTimestamp(ts + uint64(len(events)) - 1); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// ExistingAccount returns the result of creating a when the ledger holds
// e under a's ID: AccountExists when e has a's flags (AccountClosed
// among them), user data, ledger and code, else the result naming the
// first of them that differs, in that order, as TigerBeetle compares
// them. Balances and timestamps are not compared.
func ExistingAccount(a, e *Account) CreateAccountResult {
	switch {
	case a.Flags != e.Flags:
		return AccountExistsWithDifferentFlags
	case a.UserData128 != e.UserData128:
		return AccountExistsWithDifferentUserData128
	case a.UserData64 != e.UserData64:
		return AccountExistsWithDifferentUserData64
	case a.UserData32 != e.UserData32:
		return AccountExistsWithDifferentUserData32
	case a.Ledger != e.Ledger:
		return AccountExistsWithDifferentLedger
	case a.Code != e.Code:
		return AccountExistsWithDifferentCode
	}
	return AccountExists
}

func createAccount(a *Account, ts uint64, known map[ID]*Account, created *[]Account) CreateAccountResult {
	if a.Timestamp != 0 {
		return AccountTimestampMustBeZero
	}
	if a.Flags&^accountKnownFlags != 0 {
		return AccountReservedFlag
	}
	if a.ID.IsZero() {
		return AccountIDMustNotBeZero
	}
	if a.ID == IDMax {
		return AccountIDMustNotBeIntMax
	}
	if e, ok := known[a.ID]; ok {
		return ExistingAccount(a, e)
	}
	if a.Flags&AccountDebitsMustNotExceedCredits != 0 && a.Flags&AccountCreditsMustNotExceedDebits != 0 {
		return AccountFlagsAreMutuallyExclusive
	}
	switch {
	case a.DebitsPending != 0:
		return AccountDebitsPendingMustBeZero
	case a.DebitsPosted != 0:
		return AccountDebitsPostedMustBeZero
	case a.CreditsPending != 0:
		return AccountCreditsPendingMustBeZero
	case a.CreditsPosted != 0:
		return AccountCreditsPostedMustBeZero
	case a.Ledger == 0:
		return AccountLedgerMustNotBeZero
	case a.Code == 0:
		return AccountCodeMustNotBeZero
	}
	n := *a
	n.Timestamp = ts
	*created = append(*created, n)
	known[n.ID] = &(*created)[len(*created)-1]
	return AccountCreated
}

// sortUnique sorts ids ascending and removes duplicates, in place.
func sortUnique(ids []ID) []ID {
	sortIDs(ids)
	return slices.Compact(ids)
}
