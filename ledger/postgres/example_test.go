package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/postgres"
)

// A ledger on PostgreSQL, at the DSN in the environment. (Compiled, not
// run: it needs a server, so it has no Output block, and go test does not
// run an example without one.)
func Example() {
	dsn := os.Getenv("CASIMPAY_POSTGRES_DSN")
	if dsn == "" {
		return
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	l, err := ledger.New(s, ledger.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	shopper, merchant := ledger.NewID(), ledger.NewID()
	if _, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: shopper, Ledger: 978, Code: 1},
		{ID: merchant, Ledger: 978, Code: 2},
	}); err != nil {
		panic(err)
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.NewID(), DebitAccountID: shopper,
		CreditAccountID: merchant, Amount: 1250, Ledger: 978, Code: 1}})
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
}

// The store's options: a larger pool and more patience with conflicts.
func ExampleOpen() {
	opts := postgres.Options{MaxConns: 16, MaxRetries: 20}
	fmt.Println(opts.MaxConns, opts.MaxRetries)
	// Output: 16 20
}
