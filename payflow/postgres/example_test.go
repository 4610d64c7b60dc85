package postgres_test

import (
	"context"
	"log"
	"time"

	"github.com/casimpay/casimpay/payflow/postgres"
)

// Open the platform state in the ledger's PostgreSQL database; several
// platform processes may do so at once. (Compiled, not run: it needs a
// server.)
func ExampleOpen() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://casimpay@db.example/casimpay", postgres.Options{MaxConns: 32})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// A sweep deletes expired nonces, tokens, sessions and replies.
	if _, err := s.DeleteExpired(ctx, time.Now()); err != nil {
		log.Fatal(err)
	}
}
