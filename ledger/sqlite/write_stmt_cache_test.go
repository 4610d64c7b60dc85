package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/ledger"
)

// TestWriteStmtsBound: the writer's statement cache holds at most maxStmts
// statements; a text past the bound is not prepared, not even to be
// closed at once, and the Updates that use it run it unprepared.
func TestWriteStmtsBound(t *testing.T) {
	f := &sqlfault.Faults{}
	s := openWith(t, Options{ReadConns: 1, noSync: true, pools: faultPools(f)})
	ctx := context.Background()
	queries := make([]string, maxStmts+10)
	for i := range queries {
		queries[i] = fmt.Sprintf("SELECT %d", i)
	}
	s.prepare(ctx, queries)
	require.Equal(t, maxStmts, len(s.stmts))
	for i := range maxStmts {
		assert.NotNil(t, s.stmts[queries[i]], "%s", queries[i])
	}

	assert.Empty(t, prepares(f, func() {
		insertAccount(t, s, 1)
		insertAccount(t, s, 2) // its texts, noted by the first, past the bound
	}))
	assert.Equal(t, maxStmts, len(s.stmts))
	for q := range s.stmts {
		assert.NotContains(t, q, "INSERT", "a write of an Update prepared past the bound")
	}
	assert.Equal(t, 2, viewAccounts(t, s, 2))
}

// prepares returns what the statements that f numbers and that were
// prepared while run ran were.
func prepares(f *sqlfault.Faults, run func()) []string {
	var prepared []string
	f.After(func(what string) {
		if strings.HasPrefix(what, "prepare ") {
			prepared = append(prepared, what)
		}
	})
	defer f.After(nil)
	run()
	return prepared
}

// TestUpdatePreparesItsStatements: the texts that an Update ran are
// prepared once it has ended, each once though it ran more than once, and
// the next Update that runs them uses those statements rather than
// preparing more.
func TestUpdatePreparesItsStatements(t *testing.T) {
	f := &sqlfault.Faults{}
	s := openWith(t, Options{ReadConns: 1, noSync: true, pools: faultPools(f)})
	require.Empty(t, s.stmts)
	prepared := prepares(f, func() {
		require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
			if err := tx.InsertAccounts([]ledger.Account{viewAccount(1)}); err != nil {
				return err
			}
			return tx.InsertAccounts([]ledger.Account{viewAccount(3)})
		}))
	})
	require.Len(t, prepared, 1)
	assert.Equal(t, "prepare INSERT", prepared[0])
	require.Equal(t, 1, len(s.stmts))
	var first string
	for q := range s.stmts {
		first = q
	}
	assert.Contains(t, first, "INSERT OR ROLLBACK INTO accounts")
	assert.Empty(t, prepares(f, func() { insertAccount(t, s, 2) }))
	assert.Equal(t, 1, len(s.stmts))
	assert.NotNil(t, s.stmts[first])

	// The next Update runs the cached statement itself: closed, it fails.
	require.NoError(t, s.stmts[first].Close())
	err := s.Update(context.Background(), func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{viewAccount(4)})
	})
	require.EqualError(t, err, "sqlite: sql: statement is closed")
}

// TestInsertChunks: an insert of n rows runs in statements of a power of
// two rows each, the largest that fits, up to maxRows: 256 rows in one
// statement, 259 in three (256, 2 and 1); each text is prepared once.
func TestInsertChunks(t *testing.T) {
	s := openReaders(t, 1)
	next := uint64(1)
	insert := func(n int) {
		accounts := make([]ledger.Account, n)
		for i := range accounts {
			accounts[i] = viewAccount(next)
			next++
		}
		require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
			return tx.InsertAccounts(accounts)
		}))
	}
	rows := func() []int {
		var rows []int
		for q := range s.stmts {
			rows = append(rows, strings.Count(q, "(?"))
		}
		slices.Sort(rows)
		return rows
	}
	insert(256)
	assert.Equal(t, []int{256}, rows())
	insert(259)
	assert.Equal(t, []int{1, 2, 256}, rows())
	assert.Equal(t, 515, viewAccounts(t, s, 515))
}
