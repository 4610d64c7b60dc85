package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// signerDownPlatform returns a platform on s's ledger and store whose
// receipt key fails while the returned key's down is set.
func signerDownPlatform(t *testing.T, s *shop) (*payflow.Platform, *downSigner) {
	t.Helper()
	key := &downSigner{Signer: s.Key}
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: key, Chain: s.PlatformChain, Now: s.Clock.Now,
	})
	require.NoError(t, err)
	return p, key
}

// TestRefundReceiptKeyDownMovesOnce: a refund whose transfer the ledger
// made but whose receipt the platform's key could not sign fails
// internal, the refund staying pending with its reservation; the same
// refund sent again once the key signs ends done, its receipt naming the
// refund's one derived transfer, and the money moved once, which the
// recovery sweep then leaves as it is; one left so is ended by the sweep
// alike.
func TestRefundReceiptKeyDownMovesOnce(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	p, key := signerDownPlatform(t, s)
	v, _ := s.request(t)
	s.captured(t, v.ID, false)
	id := payflow.ID([]byte("refund-keydown-1"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 300, Currency: "EUR"})
	moved := [2]payflow.Balance{{Posted: funds - 690 + 300}, {Posted: 690 - 300}}

	key.down.Store(true)
	_, err := p.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.ErrorIs(t, err, errSignerDown)
	assert.Equal(t, moved, s.balances(t), "the ledger made the transfer")
	ref, err := s.Store.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundPending, ref.State)
	assert.Nil(t, ref.Receipt)
	pay, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(300), pay.Refunded, "the reservation kept")

	key.down.Store(false)
	rv, err := p.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, uint64(300), rv.Amount)
	var rc record.Receipt
	vp, err := s.PlatformVerifier.VerifyPlatform(s.PlatformChain)
	require.NoError(t, err)
	require.NoError(t, vp.VerifyReceipt(rv.Receipt, &rc))
	tid := payflow.TransferID(id, 0, 0, 4)
	assert.Equal(t, [][]byte{tid[:]}, rc.TransferIDs)
	assert.Equal(t, uint64(300), rc.Amount)
	assert.Equal(t, moved, s.balances(t), "the money moved once")
	ref, err = s.Store.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, ref.State)
	assert.True(t, bytes.Equal(rv.Receipt, ref.Receipt))

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0)
	assert.Equal(t, moved, s.balances(t))
	pay, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(300), pay.Refunded)

	// One left so is ended by the recovery sweep alike.
	next := payflow.ID([]byte("refund-keydown-2"))
	msg = s.seller.MustSign(&record.RefundRequest{RefundID: next[:], RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	key.down.Store(true)
	_, err = p.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, errSignerDown)
	key.down.Store(false)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := p.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	ref, err = s.Store.Refund(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, ref.State)
	require.NoError(t, vp.VerifyReceipt(ref.Receipt, &rc))
	tid = payflow.TransferID(next, 0, 0, 4)
	assert.Equal(t, [][]byte{tid[:]}, rc.TransferIDs)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 690 + 400}, {Posted: 690 - 400}}, s.balances(t), "the money moved once")
	pay, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(400), pay.Refunded)
}

// TestCaptureReceiptKeyDownMovesOnce: a manual capture whose posts the
// ledger made but whose receipt the platform's key could not sign fails
// internal, the request left capturing (shown held); a cancellation then
// is conflict, and the same capture sent again once the key signs ends
// it captured for the amount posted, with its receipt, the money moved
// once.
func TestCaptureReceiptKeyDownMovesOnce(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	p, key := signerDownPlatform(t, s)
	h := s.held(t)
	moved := [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}

	key.down.Store(true)
	_, err := p.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: h.ID, Amount: 400})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.ErrorIs(t, err, errSignerDown)
	assert.Equal(t, moved, s.balances(t), "the ledger made the posts")
	s.requireState(t, h.ID, "capturing")
	pv, err := p.Payment(ctx, s.seller.Token, h.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateHeld, pv.State)
	_, err = p.Cancel(ctx, s.seller.Token, h.ID)
	assert.EqualError(t, err, "payflow: conflicting request: the payment is being captured")

	key.down.Store(false)
	cv, err := p.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: h.ID, Amount: 400})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, cv.State)
	assert.Equal(t, uint64(400), cv.Captured)
	var rc record.Receipt
	vp, err := s.PlatformVerifier.VerifyPlatform(s.PlatformChain)
	require.NoError(t, err)
	require.NoError(t, vp.VerifyReceipt(cv.Receipt, &rc))
	assert.Equal(t, uint64(400), rc.Amount)
	r, err := s.Store.Payment(ctx, h.ID)
	require.NoError(t, err)
	post := payflow.TransferID(h.ID, r.Attempt, 0, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, moved, s.balances(t), "the money moved once")

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0)
	assert.Equal(t, moved, s.balances(t))
}

// TestVoidFindsPostedReceiptKeyDown: a cancellation of a held request
// whose capture the ledger made while it stayed recorded held, whose
// receipt the platform's key then cannot sign, fails internal; the
// request is left voiding and the money moved once, by the posts. The
// recovery sweep, once the key signs, ends it captured for the amount
// posted, with its receipt; nothing moves again.
func TestVoidFindsPostedReceiptKeyDown(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	p, key := signerDownPlatform(t, s)
	id := s.held(t).ID
	post := payflow.TransferID(id, 1, 0, 2)
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: post, PendingID: payflow.TransferID(id, 1, 0, 1), Amount: 690, Ledger: 978,
		Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	require.Equal(t, basketPaid, s.balances(t))

	key.down.Store(true)
	_, err = p.Cancel(ctx, s.seller.Token, id)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.ErrorIs(t, err, errSignerDown)
	s.requireState(t, id, "voiding")
	assert.Equal(t, basketPaid, s.balances(t))

	key.down.Store(false)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := p.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, uint64(690), r.Captured)
	rc := s.VerifiedReceipt(t, r.Receipt)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, basketPaid, s.balances(t))
}
