package sqlstate_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// tokensUnbound is the last schema version whose tokens carry no hash of
// the certificate their login was proved with.
const tokensUnbound = 11

// TestMigrateDeletesUnboundTokens: the tokens stored at schema version
// tokensUnbound are gone once the store is migrated (ErrNotFound: their
// cards log in again), and a token row written afterwards in the columns
// of that version, as a process of that version writes it, reads back
// with an empty certificate hash, which matches no certificate.
func TestMigrateDeletesUnboundTokens(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := atVersion(t, e, tokensUnbound)
			insert := sqlstate.Rebind(e.d, `INSERT INTO payflow_tokens (hash, card_id, expires_at) VALUES (?, ?, ?)`)
			before := sha256.Sum256([]byte("before"))
			_, err := db.ExecContext(ctx, insert, before[:], "8900000000000000001", sec(3600))
			require.NoError(t, err)

			s := open(t)
			_, err = s.Token(ctx, before[:])
			assert.ErrorIs(t, err, payflow.ErrNotFound, "a token stored before the migration")
			after := sha256.Sum256([]byte("after"))
			_, err = db.ExecContext(ctx, insert, after[:], "8900000000000000001", sec(3600))
			require.NoError(t, err)
			tok, err := s.Token(ctx, after[:])
			require.NoError(t, err)
			assert.Empty(t, tok.CertHash, "a token written without its certificate hash")
		})
	}
}
