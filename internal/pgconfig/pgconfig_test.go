package pgconfig_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/pgconfig"
)

// TestWithContextErr: the server's cancellation of a statement (57014)
// of a call whose context has ended wraps the context's error too; any
// other error, one of a context that has not ended, one that wraps the
// context's error already and nil are returned as they are.
func TestWithContextErr(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	cancelled := &pgconn.PgError{Severity: "ERROR", Code: "57014", Message: "canceling statement due to user request"}
	other := &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "could not serialize access"}

	err := pgconfig.WithContextErr(ended, cancelled)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, cancelled)
	assert.EqualError(t, err, "context canceled: ERROR: canceling statement due to user request (SQLSTATE 57014)")

	wrapped := fmt.Errorf("payflow: %w", cancelled)
	assert.EqualError(t, pgconfig.WithContextErr(ended, wrapped),
		"context canceled: payflow: ERROR: canceling statement due to user request (SQLSTATE 57014)")

	both := fmt.Errorf("%w: %w", context.Canceled, cancelled)
	for name, tt := range map[string]struct {
		ctx context.Context
		err error
	}{
		"another code":         {ended, other},
		"not a server's error": {ended, errors.New("boom")},
		"context not ended":    {context.Background(), cancelled},
		"context's error in":   {ended, both},
		"nil":                  {ended, nil},
	} {
		assert.Equal(t, tt.err, pgconfig.WithContextErr(tt.ctx, tt.err), name)
	}
}
