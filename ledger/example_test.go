package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// A shopper's card account holds 50.00 EUR; a payment places a hold of
// 12.50 EUR for the merchant, then captures 12.00 of it.
func Example() {
	ctx := context.Background()
	l, err := ledger.New(memory.New(), ledger.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	eur, _ := ledger.LookupCurrency("EUR")
	bank, shopper, merchant := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)
	ares, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: bank, Ledger: eur.Numeric, Code: 1},
		{ID: shopper, Ledger: eur.Numeric, Code: 2, Flags: ledger.AccountDebitsMustNotExceedCredits},
		{ID: merchant, Ledger: eur.Numeric, Code: 3},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("accounts:", ares)

	hold, capture := ledger.IDFromUint64(100), ledger.IDFromUint64(101)
	tres, err := l.CreateTransfers(ctx, []ledger.Transfer{
		// Fund the shopper: the bank's account is debited.
		{ID: ledger.IDFromUint64(99), DebitAccountID: bank, CreditAccountID: shopper, Amount: 5000, Ledger: eur.Numeric, Code: 1},
		{ID: hold, DebitAccountID: shopper, CreditAccountID: merchant, Amount: 1250, Ledger: eur.Numeric, Code: 2,
			Flags: ledger.TransferPending, Timeout: uint32((10 * time.Minute).Seconds())},
		{ID: capture, PendingID: hold, Amount: 1200, Flags: ledger.TransferPostPendingTransfer},
		// The hold is resolved: a second capture fails.
		{ID: ledger.IDFromUint64(102), PendingID: hold, Amount: ledger.AmountMax, Flags: ledger.TransferPostPendingTransfer},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("transfers:", tres)

	accounts, err := l.LookupAccounts(ctx, []ledger.ID{shopper, merchant})
	if err != nil {
		panic(err)
	}
	for _, a := range accounts {
		balance := int64(a.CreditsPosted) - int64(a.DebitsPosted)
		s, _ := ledger.FormatAmount(uint64(balance), "EUR")
		fmt.Printf("account %d: debits posted %d, credits posted %d, pending %d/%d, balance %s EUR\n",
			a.Code, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, s)
	}
	fmt.Println("verify:", l.Verify(ctx))
	// Output:
	// accounts: [created created created]
	// transfers: [created created created pending_transfer_already_posted]
	// account 2: debits posted 1200, credits posted 5000, pending 0/0, balance 38.00 EUR
	// account 3: debits posted 0, credits posted 1200, pending 0/0, balance 12.00 EUR
	// verify: <nil>
}

// Amounts are integers in the currency's minor unit; the numeric code of
// the currency is the ledger.
func ExampleFormatAmount() {
	for _, c := range []string{"EUR", "JPY", "KWD"} {
		cur, _ := ledger.LookupCurrency(c)
		s, _ := ledger.FormatAmount(123456, c)
		fmt.Printf("%s ledger %d: %s\n", c, cur.Numeric, s)
	}
	v, err := ledger.ParseAmount("12.5", "EUR")
	fmt.Println(v, err)
	_, err = ledger.ParseAmount("12.505", "EUR")
	fmt.Println(errors.Is(err, ledger.ErrBadAmount))
	// Output:
	// EUR ledger 978: 1234.56
	// JPY ledger 392: 123456
	// KWD ledger 414: 123.456
	// 1250 <nil>
	// true
}

// IDs parse from and print as 32 hex digits; NewID makes time-ordered ones.
func ExampleParseID() {
	id, err := ledger.ParseID("0000000000000000000000000000002a")
	fmt.Println(id == ledger.IDFromUint64(42), err)
	a, b := ledger.NewID(), ledger.NewID()
	fmt.Println(a.Compare(b))
	// Output:
	// true <nil>
	// -1
}
