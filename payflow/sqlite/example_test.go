package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
)

// The platform state opens in the ledger's database file; a nonce is
// consumed once, whichever process asks.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "casimpay")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "casimpay.db"), sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	nonce := []byte("a 32-byte nonce from crypto/rand")
	_ = s.Add(ctx, nonce, time.Now().Add(time.Minute))
	fmt.Println(s.Consume(ctx, nonce, time.Now()))
	fmt.Println(errors.Is(s.Consume(ctx, nonce, time.Now()), pki.ErrNonce))
	// Output:
	// <nil>
	// true
}
