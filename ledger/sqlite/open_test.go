package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/ledger/sqlite"
)

// TestOpenNegativeOptions: a negative ReadConns or BusyTimeout is refused
// with ErrNegativeOption rather than read as the default.
func TestOpenNegativeOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for _, o := range []sqlite.Options{{ReadConns: -1}, {BusyTimeout: -time.Second}} {
		s, err := sqlite.Open(context.Background(), path, o)
		if !assert.ErrorIs(t, err, sqlite.ErrNegativeOption, "%+v", o) {
			s.Close()
		}
	}
}
