package memory_test

import (
	"context"
	"fmt"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// A ledger over the in-memory store, with a linked chain that fails as a
// whole.
func Example() {
	ctx := context.Background()
	l, err := ledger.New(memory.New(), ledger.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	a, b := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	if _, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: a, Ledger: 978, Code: 1},
		{ID: b, Ledger: 978, Code: 1, Flags: ledger.AccountDebitsMustNotExceedCredits},
	}); err != nil {
		panic(err)
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: ledger.IDFromUint64(10), DebitAccountID: a, CreditAccountID: b, Amount: 100, Ledger: 978, Code: 1, Flags: ledger.TransferLinked},
		{ID: ledger.IDFromUint64(11), DebitAccountID: b, CreditAccountID: a, Amount: 150, Ledger: 978, Code: 1},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	accounts, _ := l.LookupAccounts(ctx, []ledger.ID{a, b})
	fmt.Println(accounts[0].DebitsPosted, accounts[1].CreditsPosted)
	// Output:
	// [linked_event_failed exceeds_credits]
	// 0 0
}
