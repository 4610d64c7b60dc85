package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestCallMeetsClose: an Update or a View that finds the Store open, and
// meets Close before it is counted among the calls under way, fails with
// ledger.ErrClosed once Close has ended, without running fn on the closed
// database.
func TestCallMeetsClose(t *testing.T) {
	for name, call := range map[string]func(s *Store, ran *bool) error{
		"Update": func(s *Store, ran *bool) error {
			return s.Update(context.Background(), func(ledger.Tx) error { *ran = true; return nil })
		},
		"View": func(s *Store, ran *bool) error {
			return s.View(context.Background(), func(ledger.ReadTx) error { *ran = true; return nil })
		},
	} {
		t.Run(name, func(t *testing.T) {
			var s *Store
			closes := 0
			var closeErr error
			s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), Options{entering: func() {
				closes++
				closeErr = s.Close() // all of it, before the call is counted
			}})
			require.NoError(t, err)
			ran := false
			require.ErrorIs(t, call(s, &ran), ledger.ErrClosed)
			assert.False(t, ran, "fn ran after Close")
			assert.Equal(t, 1, closes)
			assert.NoError(t, closeErr)
		})
	}
}
