package payflow

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
)

// spentRefusingStore is a Store whose Spent answers spent and whose
// Accept keeps the acceptance it is given.
type spentRefusingStore struct {
	Store
	spent    error
	accepted *Acceptance
}

func (s *spentRefusingStore) Spent(context.Context, []byte, string, uint64) error { return s.spent }
func (s *spentRefusingStore) Accept(_ context.Context, a *Acceptance) error {
	s.accepted = a
	return nil
}

// TestRefuseConflictOfSpentRecord: a record refused with ErrConflict
// whose nonce another record spent is refused ErrReplay, and one whose
// counter another passed ErrClone, not ErrConflict.
func TestRefuseConflictOfSpentRecord(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		spent, want error
	}{
		{pki.ErrNonce, ErrReplay},
		{&pki.CounterError{CardID: "x", Last: 3, Got: 2}, ErrClone},
	} {
		p := &Platform{store: &spentRefusingStore{spent: c.spent}, log: slog.New(slog.DiscardHandler)}
		err := p.refuse(ctx, &Acceptance{CardID: "x", Counter: 2, Nonce: make([]byte, 32)}, ErrConflict)
		assert.ErrorIs(t, err, c.want)
		assert.NotErrorIs(t, err, ErrConflict)
	}
}

// TestRefuseWritesNothing: a record refused for itself has its nonce and
// counter committed with no write, whatever write its acceptance held.
func TestRefuseWritesNothing(t *testing.T) {
	st := &spentRefusingStore{}
	p := &Platform{store: st}
	a := &Acceptance{CardID: "x", Counter: 2, Token: &TokenRecord{}, Session: &SessionRecord{},
		Insert: &PaymentRecord{}, Update: &PaymentRecord{}, Refund: &RefundRecord{}}
	require.ErrorIs(t, p.refuse(context.Background(), a, ErrInvalid), ErrInvalid)
	require.NotNil(t, st.accepted)
	assert.Nil(t, st.accepted.Token)
	assert.Nil(t, st.accepted.Session)
	assert.Nil(t, st.accepted.Insert)
	assert.Nil(t, st.accepted.Update)
	assert.Nil(t, st.accepted.Refund)
	assert.Equal(t, uint64(2), st.accepted.Counter)
}
