package payflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// errLedgerDown is the error of a ledger store that cannot be reached.
var errLedgerDown = errors.New("ledger store down")

// downLedger is a ledger store that fails every transaction with
// errLedgerDown while down is set, every read-only one (View) while
// readsDown is, and the read-write ones (Update) that updates picks; of
// those that the store made, it loses the replies that replies picks,
// failing them with its plan's error. Within a read-only transaction, it
// fails the reads of transfers by ID that transfers picks.
type downLedger struct {
	ledger.Store
	down, readsDown  atomic.Bool
	updates, replies callFault[struct{}]
	transfers        callFault[[]ledger.ID]
}

func (d *downLedger) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	if d.down.Load() {
		return errLedgerDown
	}
	if err := d.updates.strike(struct{}{}); err != nil {
		return err
	}
	err := d.Store.Update(ctx, fn)
	if lost := d.replies.strike(struct{}{}); err == nil && lost != nil {
		return lost
	}
	return err
}

func (d *downLedger) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if d.down.Load() || d.readsDown.Load() {
		return errLedgerDown
	}
	return d.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(downReadTx{tx, d}) })
}

// downReadTx is a read-only transaction of a downLedger.
type downReadTx struct {
	ledger.ReadTx
	d *downLedger
}

func (tx downReadTx) Transfers(ids []ledger.ID) ([]ledger.Transfer, error) {
	if err := tx.d.transfers.strike(ids); err != nil {
		return nil, err
	}
	return tx.ReadTx.Transfers(ids)
}

// TestLedgerDownKeepsCause: a call that the ledger's store fails fails
// with ErrUnavailable wrapping the store's error, which errors.Is finds:
// a balance read, a funding, the hold of a consent, the capture and the
// void of a hold, and the read of the post of a hold that the void finds
// posted, the ledger's reads failing alone.
func TestLedgerDownKeepsCause(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func(t *testing.T, s *shop, ls *downLedger) error
	}{
		{"balance", func(t *testing.T, s *shop, ls *downLedger) error {
			ls.down.Store(true)
			_, err := s.Platform.Balance(ctx, s.shopper.ID, "EUR")
			return err
		}},
		{"fund", func(t *testing.T, s *shop, ls *downLedger) error {
			ls.down.Store(true)
			return s.Platform.Fund(ctx, payflow.ID{0x46}, s.shopper.ID, "EUR", 5)
		}},
		{"approve", func(t *testing.T, s *shop, ls *downLedger) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			ls.down.Store(true)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			return err
		}},
		{"capture", func(t *testing.T, s *shop, ls *downLedger) error {
			h := s.held(t)
			ls.down.Store(true)
			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: h.ID})
			return err
		}},
		{"cancel held", func(t *testing.T, s *shop, ls *downLedger) error {
			h := s.held(t)
			ls.down.Store(true)
			_, err := s.Platform.Cancel(ctx, s.seller.Token, h.ID)
			return err
		}},
		{"cancel held, its hold posted", func(t *testing.T, s *shop, ls *downLedger) error {
			// The void finds the hold posted and cannot read the post
			// (madeCapture).
			h := s.held(t)
			res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
				ID: payflow.TransferID(h.ID, 1, 0, 2), PendingID: payflow.TransferID(h.ID, 1, 0, 1), Amount: 690,
				Ledger: eurLedger, Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
			}})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			ls.readsDown.Store(true)
			_, err = s.Platform.Cancel(ctx, s.seller.Token, h.ID)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{})
			err := tc.call(t, s, ls)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.ErrorIs(t, err, errLedgerDown, "the store's error kept")
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
		})
	}
}
