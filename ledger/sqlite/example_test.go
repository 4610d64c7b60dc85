package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/sqlite"
)

// A payment is written to a ledger in a SQLite file; after the process
// reopens the file, the transfer and the balances are there.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ledger.db")

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		panic(err)
	}
	l, err := ledger.New(s, ledger.Options{})
	if err != nil {
		panic(err)
	}
	shopper, merchant := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	ares, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: shopper, Ledger: 978, Code: 1},
		{ID: merchant, Ledger: 978, Code: 2},
	})
	if err != nil {
		panic(err)
	}
	payment := ledger.Transfer{ID: ledger.IDFromUint64(100), DebitAccountID: shopper, CreditAccountID: merchant,
		Amount: 1250, Ledger: 978, Code: 1}
	tres, err := l.CreateTransfers(ctx, []ledger.Transfer{payment})
	if err != nil {
		panic(err)
	}
	fmt.Println("accounts:", ares, "transfers:", tres)
	l.Close()
	s.Close()

	// Reopen: the schema is already current, the data is on disk.
	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	l, err = ledger.New(s, ledger.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	// The same transfer again, as a client retries after a lost reply.
	tres, err = l.CreateTransfers(ctx, []ledger.Transfer{payment})
	if err != nil {
		panic(err)
	}
	fmt.Println("retry:", tres)
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{merchant})
	if err != nil {
		panic(err)
	}
	fmt.Println("merchant credits posted:", accounts[0].CreditsPosted)
	fmt.Println("verify:", l.Verify(ctx))
	// Output:
	// accounts: [created created] transfers: [created]
	// retry: [exists]
	// merchant credits posted: 1250
	// verify: <nil>
}
