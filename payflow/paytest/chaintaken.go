package paytest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// approvalIDTaken: a consent to a request one of whose hold chain's IDs
// the ledger holds as a transfer that is not the platform's (written by
// another client of the ledger: under a post's ID with auto capture, under
// a hold's ID with manual capture) is refused with ErrConflict, as a hold
// the ledger refused: nothing moves, the request is pending again with
// the consent spent (ErrReplay when sent again), and the recovery sweep
// finds nothing under way. So also when the ledger holds the chain's
// first hold as the platform makes it (made otherwise than by the chain,
// which the ledger makes whole or not at all), another ID taken: that
// hold is voided, and no money stays held. The request then ends as any
// pending one: a second consent, whose holds and posts take the IDs of
// the next attempt, settles it and charges the payer once; the merchant
// cancels it; or it expires. A hold made so and then posted by a
// transfer that the platform did not make leaves the request approving
// instead (HoldPostedOtherwise, below).
func approvalIDTaken(t *testing.T, newShop func(t *testing.T, manual bool) *Shop) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		manual    bool
		leg, kind byte // of the taken ID
		made      bool // the first hold made as the platform makes it
	}{
		{"AutoCapturePostIDTaken", false, 0, kindPost, false},
		{"ManualCaptureHoldIDTaken", true, 0, kindHold, false},
		{"AutoCaptureHoldMadePostIDTaken", false, 1, kindPost, true},
		{"ManualCaptureHoldMadeHoldIDTaken", true, 1, kindHold, true},
	} {
		for _, end := range []string{"ConsentedAgain", payflow.StateCancelled, payflow.StateExpired} {
			t.Run(c.name+"/"+end, func(t *testing.T) {
				s := newShop(t, c.manual)
				id := s.createPending(1000, record.Leg{Asset: Ticket, Amount: 1}).ID
				taken := payflow.TransferID(id, 1, c.leg, c.kind)
				eur := [2]payflow.Balance{{Posted: Funds - 1}, {Posted: 1}}
				if c.made {
					s.takeID(taken, s.firstHold(id, 1000))
					require.Equal(t, [2]payflow.Balance{{Posted: Funds - 1, Held: 1000}, {Posted: 1, Incoming: 1000}}, s.Balances("EUR"),
						"the first hold made, and the transfer under the taken ID")
				} else {
					s.takeID(taken)
					require.Equal(t, eur, s.Balances("EUR"), "the transfer under the taken ID")
				}

				consent := s.Consent(id)
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrConflict)
				r, err := s.Store.Payment(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, payflow.StatePending, r.State, "pending again")
				assert.Nil(t, r.Consent, "the consent spent")
				h := record.Hash(consent)
				assert.Equal(t, h[:], r.ConsentHash)
				assert.Equal(t, uint32(1), r.Attempt)
				assert.Equal(t, eur, s.Balances("EUR"), "nothing moved, nothing held")
				assert.Equal(t, untouchedTickets, s.Balances(Ticket), "nothing moved")
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				assert.ErrorIs(t, err, payflow.ErrReplay, "the consent sent again")
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 0, nil, "nothing under way")

				switch end {
				case "ConsentedAgain":
					v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(id)})
					require.NoError(t, err)
					if c.manual {
						require.Equal(t, payflow.StateHeld, v.State)
						v, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
						require.NoError(t, err)
					}
					assert.Equal(t, payflow.StateCaptured, v.State)
					assert.Equal(t, uint64(1000), v.Captured)
					rc := s.VerifiedReceipt(t, v.Receipt)
					post0, post1 := payflow.TransferID(id, 2, 0, kindPost), payflow.TransferID(id, 2, 1, kindPost)
					assert.Equal(t, [][]byte{post0[:], post1[:]}, rc.TransferIDs, "the posts of the second attempt")
					assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1 - 1000}, {Posted: 1 + 1000}}, s.Balances("EUR"), "charged once")
					assert.Equal(t, [2]payflow.Balance{{Posted: 1}, {Posted: 9}}, s.Balances(Ticket))
				case payflow.StateCancelled:
					v, err := s.Platform.Cancel(ctx, s.Seller.Token, id)
					require.NoError(t, err)
					assert.Equal(t, payflow.StateCancelled, v.State)
				case payflow.StateExpired:
					s.expireOne(t, payflow.DefaultRequestTTL, id)
				}
				if end == "ConsentedAgain" {
					assert.Equal(t, payflow.StateCaptured, s.storedState(id))
				} else {
					assert.Equal(t, end, s.storedState(id))
					assert.Equal(t, eur, s.Balances("EUR"), "nothing moved")
					assert.Equal(t, untouchedTickets, s.Balances(Ticket), "nothing moved")
				}
				found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{taken})
				require.NoError(t, err)
				require.Len(t, found, 1)
				assert.Equal(t, uint64(1), found[0].Amount, "the taken ID holds the other client's transfer")
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}

	// The first hold made as the platform makes it, then posted by a
	// transfer that the platform did not make, and the second hold's ID
	// taken: the hold moved, not by the platform, and is no longer there
	// to void. The consent is ErrInternal and the request stays
	// approving, every try of the sweep failing alike, nothing more
	// moving.
	t.Run("HoldPostedOtherwise", func(t *testing.T) {
		s := newShop(t, true)
		id := s.createPending(1000, record.Leg{Asset: Ticket, Amount: 1}).ID
		s.takeID(payflow.TransferID(id, 1, 1, kindHold), s.firstHold(id, 1000), ledger.Transfer{
			ID: ledger.IDFromUint64(7), PendingID: payflow.TransferID(id, 1, 0, kindHold), Amount: 1000,
			Ledger: 978, Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
		})
		eur := [2]payflow.Balance{{Posted: Funds - 1 - 1000}, {Posted: 1 + 1000}}
		require.Equal(t, eur, s.Balances("EUR"), "the hold posted, and the transfer under the taken ID")

		_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(id)})
		require.ErrorIs(t, err, payflow.ErrInternal)
		assert.Equal(t, payflow.StateApproving, s.storedState(id))
		s.Clock.Advance(payflow.DefaultRecoverAfter)
		s.sweep(t, 0, payflow.ErrInternal, "the sweep's try")
		assert.Equal(t, payflow.StateApproving, s.storedState(id))
		assert.Equal(t, eur, s.Balances("EUR"), "nothing more moved")
		assert.Equal(t, untouchedTickets, s.Balances(Ticket), "nothing moved")
		require.NoError(t, s.Ledger.Verify(ctx))
	})
}

// firstHold returns the hold of the money leg, of amount EUR, of request
// id's first attempt, as the platform makes it at a consent.
func (s *Shop) firstHold(id payflow.ID, amount uint64) ledger.Transfer {
	return ledger.Transfer{
		ID: payflow.TransferID(id, 1, 0, kindHold), DebitAccountID: payflow.AccountID(payflow.AccountWallet, 978, s.Shopper.ID),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, 978, MerchantID), Amount: amount, UserData128: ledger.ID(id),
		Timeout: uint32(payflow.DefaultHoldTTL / time.Second), Ledger: 978, Code: payflow.TransferPayment, Flags: ledger.TransferPending,
	}
}

// refundIDTaken: a refund whose ledger transfer ID (kind 4) the ledger
// holds as a transfer that another client of the ledger wrote, with other
// fields, is refused with ErrConflict and ends failed for good, as a
// refund the ledger refused does: its reservation released, so that the
// payment's whole capture can be refunded under another refund ID, and
// no money moved by it. The same refund sent again answers the same
// failure. So also a refund under way found so by the recovery sweep,
// which counts it finished and reports nothing.
func refundIDTaken(t *testing.T, s *Shop) {
	ctx := context.Background()
	v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(s.createPending(1000).ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	swept := s.pendingRefund(v.ID, 1, 200)
	refundID := payflow.ID([]byte("refund-taken-001"))
	msg := s.Seller.MustSign(&record.RefundRequest{RefundID: refundID[:], RequestID: v.ID[:], Amount: 300, Currency: "EUR"})
	for _, id := range []payflow.ID{refundID, swept} {
		s.takeID(payflow.TransferID(id, 0, 0, kindRefund))
	}
	eur := [2]payflow.Balance{{Posted: Funds - 1000 - 2}, {Posted: 1000 + 2}}
	require.Equal(t, eur, s.Balances("EUR"), "the transfers under the taken IDs")
	failed := func(id payflow.ID) {
		t.Helper()
		r, err := s.Store.Refund(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.RefundFailed, r.State)
		assert.Equal(t, payflow.AsError(payflow.ErrConflict).Code, r.Failure)
		assert.Empty(t, r.Receipt)
	}

	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrConflict)
	failed(refundID)
	_, again := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, again, payflow.ErrConflict, "the same refund sent again")
	assert.Equal(t, payflow.AsError(err).Code, payflow.AsError(again).Code)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1, nil, "the refund under way ended failed")
	failed(swept)
	s.sweep(t, 0, nil, "nothing under way")
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), r.Refunded, "the reservations released")
	assert.Equal(t, eur, s.Balances("EUR"), "nothing moved")

	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: s.Seller.MustSign(&record.RefundRequest{
		RefundID: []byte("refund-other-001"), RequestID: v.ID[:], Amount: 1000, Currency: "EUR"})})
	require.NoError(t, err, "the whole capture refunded under another ID")
	assert.Equal(t, uint64(1000), rv.Refunded)
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 2}, {Posted: 2}}, s.Balances("EUR"))
	found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(refundID, 0, 0, kindRefund)})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, uint64(1), found[0].Amount, "the taken ID holds the other client's transfer")
	require.NoError(t, s.Ledger.Verify(ctx))
}
