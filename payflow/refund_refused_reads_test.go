package payflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// errManyReads ends a run of reads that would otherwise go on.
var errManyReads = errors.New("too many reads of refunds and payments")

// maxReads is how many reads of refunds and payments boundedReads
// answers: far more than one refund's settlement makes.
const maxReads = 20

// boundedReads is a Store that refuses the reads of refunds and payments
// after the first maxReads with errManyReads.
type boundedReads struct {
	payflow.Store
	reads int
}

func (s *boundedReads) read() error {
	if s.reads++; s.reads > maxReads {
		return errManyReads
	}
	return nil
}

func (s *boundedReads) Refund(ctx context.Context, id payflow.ID) (*payflow.RefundRecord, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.Refund(ctx, id)
}

func (s *boundedReads) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.Payment(ctx, id)
}

// TestRefundRefusedReservingItsAmount: a refund that the ledger refuses
// (the merchant's balance paid out) whose reservation is all that its
// payment holds refunded (its Refunded the refund's amount) ends failed
// at once, with the reservation released, when Refund drives it and when
// the recovery sweep does: ErrFunds from Refund, the sweep counting it
// completed, the refund failed with "insufficient_funds", the payment
// holding nothing refunded, the balances as before the refund.
func TestRefundRefusedReservingItsAmount(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// refund has the refund msg refused, the merchant's balance paid
		// out, with ls up at the end.
		refund func(t *testing.T, s *shop, ls *downLedger, msg []byte)
	}{
		{"Refund", func(t *testing.T, s *shop, ls *downLedger, msg []byte) {
			s.payout(t, 600)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			assert.ErrorIs(t, err, payflow.ErrFunds)
		}},
		{"RecoverSweep", func(t *testing.T, s *shop, ls *downLedger, msg []byte) {
			ls.down.Store(true)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, errLedgerDown, "the refund left pending, reserved")
			ls.down.Store(false)
			s.payout(t, 600)
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			n, err := s.Platform.RecoverSweep(ctx, 0)
			assert.NoError(t, err)
			assert.Equal(t, 1, n, "the refusal ends the refund")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &boundedReads{Store: memory.New()}
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, st, ls, false, paytest.Options{})
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			id := payflow.ID([]byte("refund-000000001"))
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
			st.reads = 0

			tc.refund(t, s, ls, msg)
			assert.LessOrEqual(t, st.reads, maxReads, "reads of refunds and payments")
			paidOut := s.balances(t)
			r, err := st.Store.Refund(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundFailed, r.State)
			assert.Equal(t, payflow.AsError(payflow.ErrFunds).Code, r.Failure)
			p, err := st.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCaptured, p.State)
			assert.Equal(t, uint64(0), p.Refunded, "the reservation released")
			assert.Equal(t, uint64(690), p.Captured)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds - 690}, {Posted: 90}}, paidOut, "no refund moved")
		})
	}
}
