package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteStmtsBound: the writer's statement cache holds at most maxStmts
// statements; a text past the bound is not prepared, and the Updates that
// use it run it unprepared.
func TestWriteStmtsBound(t *testing.T) {
	s := openReaders(t, 1)
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

	insertAccount(t, s, 1)
	insertAccount(t, s, 2) // its texts, noted by the first, past the bound
	assert.Equal(t, maxStmts, len(s.stmts))
	for q := range s.stmts {
		assert.NotContains(t, q, "INSERT", "a write of an Update prepared past the bound")
	}
	assert.Equal(t, 2, viewAccounts(t, s, 2))
}

// TestUpdatePreparesItsStatements: the texts that an Update ran are
// prepared once it has ended, and the next Update that runs them uses
// those statements rather than preparing more.
func TestUpdatePreparesItsStatements(t *testing.T) {
	s := openReaders(t, 1)
	require.Empty(t, s.stmts)
	insertAccount(t, s, 1)
	require.Equal(t, 1, len(s.stmts))
	var first string
	for q := range s.stmts {
		first = q
	}
	assert.Contains(t, first, "INSERT OR ROLLBACK INTO accounts")
	insertAccount(t, s, 2)
	assert.Equal(t, 1, len(s.stmts))
	assert.NotNil(t, s.stmts[first])
}
