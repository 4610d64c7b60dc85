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

// heldPosted creates a held request of 1000 EUR and a ticket and makes in
// the ledger the posts of its capture of 600 EUR, as the platform makes
// them, leaving the request recorded held: the record that a capture
// driven twice left when one driver recorded it refused (an account
// closed) after the other's posts were made. The money moved: the payer
// paid 600 EUR and got the ticket.
func (s *Shop) heldPosted(t *testing.T) payflow.ID {
	t.Helper()
	id := s.createHeld(1000, record.Leg{Asset: Ticket, Amount: 1}).ID
	ts := make([]ledger.Transfer, 2)
	for leg, lc := range []uint32{978, TicketCode} {
		ts[leg] = ledger.Transfer{
			ID: payflow.TransferID(id, 1, byte(leg), kindPost), PendingID: payflow.TransferID(id, 1, byte(leg), kindHold),
			Amount: 600, Ledger: lc, Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer | ledger.TransferLinked,
		}
	}
	ts[1].Amount, ts[1].Flags = 1, ledger.TransferPostPendingTransfer
	res, err := s.Ledger.CreateTransfers(context.Background(), ts)
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	require.Equal(t, payflow.StateHeld, s.storedState(id))
	return id
}

// capturedAsPosted checks that request id is stored captured for the
// 600 EUR that heldPosted posted, with a receipt of that amount that
// lists the posts, and that the money and the ticket moved once.
func (s *Shop) capturedAsPosted(t *testing.T, id payflow.ID, eur, tickets [2]payflow.Balance) {
	t.Helper()
	r, err := s.Store.Payment(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, uint64(600), r.Captured)
	rc := s.VerifiedReceipt(t, r.Receipt)
	assert.Equal(t, uint64(600), rc.Amount)
	post0, post1 := payflow.TransferID(id, 1, 0, kindPost), payflow.TransferID(id, 1, 1, kindPost)
	assert.Equal(t, [][]byte{post0[:], post1[:]}, rc.TransferIDs)
	assert.Equal(t, eur, s.Balances("EUR"), "600 EUR paid once, the rest released")
	assert.Equal(t, tickets, s.Balances(Ticket), "the ticket delivered once")
}

// holdPostedWhileHeld: a held request whose capture the ledger made (its
// posts) while it stayed recorded held ends captured for the amount
// posted, with its receipt, whatever meets it: a cancellation (ErrFinal),
// the hold's expiry (ExpireDue, or a read), the recovery sweep of a
// cancellation left voiding, or a capture of another amount (ErrFinal).
// The ledger refuses each void (pending_transfer_already_posted) and keeps
// no transfer under its ID, and refuses the post of another amount
// (exists_with_different_amount); the money moves once. A capture of the
// amount posted returns the captured request.
func holdPostedWhileHeld(t *testing.T, s *Shop) {
	ctx := context.Background()
	eur, tickets := untouchedEUR, untouchedTickets
	moved := func() {
		eur[0].Posted -= 600
		eur[1].Posted += 600
		tickets[0].Posted++
		tickets[1].Posted--
	}

	id := s.heldPosted(t)
	moved()
	_, err := s.Platform.Cancel(ctx, s.Seller.Token, id)
	require.ErrorIs(t, err, payflow.ErrFinal, "the cancellation")
	s.capturedAsPosted(t, id, eur, tickets)
	s.unspent(t, legTransfers(id, kindVoid)...)
	v, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id, Amount: 600})
	require.NoError(t, err, "a capture of the amount posted")
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, uint64(600), v.Captured)

	id = s.heldPosted(t)
	moved()
	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.ErrorIs(t, err, payflow.ErrFinal, "a capture of all 1000")
	s.capturedAsPosted(t, id, eur, tickets)

	id = s.heldPosted(t)
	moved()
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	r.State, r.VoidTo, r.UpdatedAt = "voiding", payflow.StateCancelled, s.Clock.Now()
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateHeld), "a cancellation's record, its void not sent")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the sweep finished the settlement")
	s.capturedAsPosted(t, id, eur, tickets)
	s.unspent(t, legTransfers(id, kindVoid)...)

	expiring := s.heldPosted(t)
	s.Clock.Advance(time.Second) // due before the other
	read := s.heldPosted(t)
	moved()
	moved()
	s.Clock.Advance(payflow.DefaultHoldTTL + time.Second)
	s.RefreshCRLs()
	s.Seller.Login(record.RoleSeller)
	n, err = s.Platform.ExpireDue(ctx, 1)
	require.NoError(t, err)
	assert.Zero(t, n, "none expired")
	pv, err := s.Platform.Payment(ctx, s.Seller.Token, read)
	require.NoError(t, err, "a read after the hold's expiry")
	assert.Equal(t, payflow.StateCaptured, pv.State)
	assert.Equal(t, uint64(600), pv.Captured)
	s.capturedAsPosted(t, expiring, eur, tickets)
	s.capturedAsPosted(t, read, eur, tickets)
	s.unspent(t, append(legTransfers(expiring, kindVoid), legTransfers(read, kindVoid)...)...)
}

// legTransfers returns the IDs of the transfers of kind (kindHold,
// kindVoid) of the money leg and of one asset leg of request id's first
// consent.
func legTransfers(id payflow.ID, kind byte) []ledger.ID {
	return []ledger.ID{payflow.TransferID(id, 1, 0, kind), payflow.TransferID(id, 1, 1, kind)}
}

// holdPostedOtherwise: a held request whose holds the ledger holds posted
// or voided, though not by the posts of a capture as the platform makes
// them (madeCapture finds none), is not taken for captured, and nothing
// moves. A capture is ErrInternal and the request is left capturing,
// whether the ledger answers its posts pending_transfer_already_posted
// (the holds posted under other IDs) or holds their IDs as the transfers
// that posted or voided the holds: the holds moved, not by the platform,
// and are no longer there to void, so the request is not held again. So
// also when the ledger holds the money leg's post ID as a transfer that
// posts nothing, the asset hold or the money hold itself posted under
// another ID (for a request of money only too): the posts' chain stops at
// the taken ID before the ledger looks at any hold, so the capture submits
// the posts again under spare IDs, and the ledger answers the post of the
// hold posted pending_transfer_already_posted. A
// cancellation, whose void the ledger answers
// pending_transfer_already_posted, is ErrInternal, the request left
// voiding, having voided the holds still pending. Neither makes a receipt.
// A cancellation then leaves the request as it is: refused with
// ErrConflict while capturing (a capture under way), ErrInternal again
// while voiding. A request left capturing or voiding fails again at the
// recovery sweep's try, which defers it, and nothing moves. So for holds
// posted under the IDs of another attempt, posts crossed (each leg's post
// ID posting the other leg's hold, for the asset leg's amount), the asset
// hold voided under its post's ID, the asset hold posted in part, and
// the money leg's post ID taken, the asset hold or the money hold posted.
// Each case runs on a shop of its own from newShop, so that a sweep meets
// its request alone.
func holdPostedOtherwise(t *testing.T, newShop func(t *testing.T) *Shop) {
	ctx := context.Background()
	const post, void = ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer
	// made is a transfer of ID TransferID(id, attempt, leg, kindPost),
	// where leg is its place in the pair, that posts or voids the hold of
	// leg hold of id's first consent; with no flags, it is a transfer of
	// amount EUR from the shopper to the merchant that posts nothing, as
	// another client of the ledger would make it, and hold is unused.
	type made struct {
		attempt uint32
		hold    byte
		amount  uint64
		flags   ledger.TransferFlags
	}
	for _, c := range []struct {
		name    string
		tickets uint64
		made    [2]made
	}{
		{"posts of another attempt", 1, [2]made{{2, 0, 600, post}, {2, 1, 1, post}}},
		{"posts crossed", 1, [2]made{{1, 1, 1, post}, {1, 0, 1, post}}},
		{"asset hold voided under its post's ID", 1, [2]made{{1, 0, 600, post}, {1, 1, 1, void}}},
		{"asset hold posted in part", 2, [2]made{{1, 0, 600, post}, {1, 1, 1, post}}},
		{"money post ID taken, asset hold posted under another ID", 1, [2]made{{1, 0, 1, 0}, {2, 1, 1, post}}},
		{"money post ID taken, money hold posted under another ID", 1, [2]made{{1, 0, 1, 0}, {2, 0, 1000, post}}},
		{"money only, post ID taken, hold posted under another ID", 0, [2]made{{1, 0, 1, 0}, {2, 0, 1000, post}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, end := range []struct {
				name, state string
				call        func(s *Shop, id payflow.ID) error
				cancel      error // of a cancellation after the call
			}{
				{"capture", "capturing", func(s *Shop, id payflow.ID) error {
					_, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
					return err
				}, payflow.ErrConflict},
				{"cancellation", "voiding", func(s *Shop, id payflow.ID) error {
					_, err := s.Platform.Cancel(ctx, s.Seller.Token, id)
					return err
				}, payflow.ErrInternal},
			} {
				t.Run(end.name, func(t *testing.T) {
					s := newShop(t)
					var legs []record.Leg // none for a request of money only (tickets zero)
					if c.tickets > 0 {
						legs = append(legs, record.Leg{Asset: Ticket, Amount: c.tickets})
					}
					id := s.createHeld(1000, legs...).ID
					ts := make([]ledger.Transfer, len(c.made))
					pending := []bool{true, true} // the holds that ts leaves pending
					for leg, m := range c.made {
						ts[leg] = ledger.Transfer{
							ID: payflow.TransferID(id, m.attempt, byte(leg), kindPost), PendingID: payflow.TransferID(id, 1, m.hold, kindHold),
							Amount: m.amount, Ledger: []uint32{978, TicketCode}[m.hold], Code: payflow.TransferPayment, Flags: m.flags,
						}
						if m.flags == 0 {
							ts[leg].PendingID, ts[leg].Ledger, ts[leg].Code = ledger.ID{}, 978, 9
							ts[leg].DebitAccountID = payflow.AccountID(payflow.AccountWallet, 978, s.Shopper.ID)
							ts[leg].CreditAccountID = payflow.AccountID(payflow.AccountMerchant, 978, MerchantID)
						} else {
							pending[m.hold] = false
						}
					}
					ts[0].Flags |= ledger.TransferLinked // as the platform links the posts of a capture
					res, err := s.Ledger.CreateTransfers(ctx, ts)
					require.NoError(t, err)
					require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
					ticketBalances := func() (b [2]payflow.Balance) { // none without a ticket leg
						if c.tickets > 0 {
							b = s.Balances(Ticket)
						}
						return b
					}
					eur, tickets := s.Balances("EUR"), ticketBalances()
					require.ErrorIs(t, end.call(s, id), payflow.ErrInternal)
					if end.state == "voiding" { // the voids release the holds left pending
						for hold, b := range []*[2]payflow.Balance{&eur, &tickets} {
							if amount := []uint64{1000, c.tickets}[hold]; pending[hold] {
								b[hold].Held -= amount
								b[1-hold].Incoming -= amount
							}
						}
					}
					r, err := s.Store.Payment(ctx, id)
					require.NoError(t, err)
					assert.Equal(t, end.state, r.State)
					assert.Empty(t, r.Receipt)
					_, err = s.Platform.Cancel(ctx, s.Seller.Token, id)
					assert.ErrorIs(t, err, end.cancel, "a cancellation after the call")
					assert.Equal(t, end.state, s.storedState(id), "the state after the cancellation")

					s.Clock.Advance(payflow.DefaultRecoverAfter)
					s.sweep(t, 0, payflow.ErrInternal, "the sweep's try")
					r, err = s.Store.Payment(ctx, id)
					require.NoError(t, err)
					assert.Equal(t, end.state, r.State, "the state after the sweep")
					assert.Empty(t, r.Receipt)
					assert.WithinDuration(t, s.Clock.Now(), r.DeferredTo, 0, "deferred by the sweep")
					assert.Equal(t, eur, s.Balances("EUR"), "nothing moved but the voids")
					assert.Equal(t, tickets, ticketBalances(), "nothing moved but the voids")
					// The ledger keeps no ID of a transfer it refused the
					// platform: the voids of a cancellation but those of
					// the holds left pending, and the posts of a capture
					// where the case made none under their IDs.
					var refused []ledger.ID
					for leg, m := range c.made {
						switch {
						case end.state == "voiding":
							if !pending[leg] {
								refused = append(refused, payflow.TransferID(id, 1, byte(leg), kindVoid))
							}
						case m.attempt != 1:
							refused = append(refused, payflow.TransferID(id, 1, byte(leg), kindPost))
						}
					}
					s.unspent(t, refused...)
				})
			}
		})
	}
}

// postsTaken: a held request whose post IDs the ledger holds as other
// transfers than posts or voids of its holds (written by another client
// of the ledger: the platform makes no such transfer), its holds still
// pending, is refused a capture with ErrConflict, as a capture that meets
// a post the ledger refused: the request is held again, nothing moved,
// and every later capture is refused alike. So for a transfer between the
// request's accounts and for the void of another request's hold (that
// request then cancelled, its void finding the hold voided). The recovery
// sweep finds nothing under way. The hold can still be cancelled, its
// voids, under IDs of their own, releasing the money and the ticket, and
// the request ends cancelled; or expire, the ledger releasing them at the
// holds' timeout (no void), and the request ends expired.
func postsTaken(t *testing.T, s *Shop) {
	ctx := context.Background()
	taken := uint64(0) // EUR moved by takeID
	held := func() payflow.ID {
		id := s.createHeld(1000, record.Leg{Asset: Ticket, Amount: 1}).ID
		other := s.createHeld(1000).ID
		res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
			ID: payflow.TransferID(id, 1, 0, kindPost), PendingID: payflow.TransferID(other, 1, 0, kindHold),
			Ledger: 978, Code: payflow.TransferPayment, Flags: ledger.TransferVoidPendingTransfer,
		}})
		require.NoError(t, err)
		require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
		v, err := s.Platform.Cancel(ctx, s.Seller.Token, other)
		require.NoError(t, err, "the other request's cancellation")
		require.Equal(t, payflow.StateCancelled, v.State)
		s.takeID(payflow.TransferID(id, 1, 1, kindPost))
		taken++
		for range 2 { // refused alike every time
			_, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
			require.ErrorIs(t, err, payflow.ErrConflict)
			r, err := s.Store.Payment(ctx, id)
			require.NoError(t, err)
			require.Equal(t, payflow.StateHeld, r.State, "held again")
			assert.Empty(t, r.Receipt)
			assert.Equal(t, [2]payflow.Balance{{Posted: Funds - taken, Held: 1000}, {Posted: taken, Incoming: 1000}}, s.Balances("EUR"),
				"nothing moved but the transfers under the post IDs")
			assert.Equal(t, [2]payflow.Balance{{Incoming: 1}, {Posted: 10, Held: 1}}, s.Balances(Ticket), "nothing moved")
		}
		s.Clock.Advance(payflow.DefaultRecoverAfter)
		s.sweep(t, 0, nil, "nothing under way")
		return id
	}
	// released checks that the money and the ticket are back with their
	// owners, by the voids of the holds under their own IDs when voided.
	released := func(id payflow.ID, voided bool) {
		t.Helper()
		found, err := s.Ledger.LookupTransfers(ctx, legTransfers(id, kindVoid))
		require.NoError(t, err)
		var holds []ledger.ID
		for _, v := range found {
			assert.Equal(t, ledger.TransferVoidPendingTransfer, v.Flags, "a void")
			holds = append(holds, v.PendingID)
		}
		if voided {
			assert.ElementsMatch(t, legTransfers(id, kindHold), holds, "the voids of the holds")
		} else {
			assert.Empty(t, holds, "no void: the ledger expired the holds")
		}
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds - taken}, {Posted: taken}}, s.Balances("EUR"), "the money released")
		assert.Equal(t, untouchedTickets, s.Balances(Ticket), "the ticket released")
	}

	id := held()
	v, err := s.Platform.Cancel(ctx, s.Seller.Token, id)
	require.NoError(t, err, "the cancellation")
	assert.Equal(t, payflow.StateCancelled, v.State)
	assert.Equal(t, payflow.StateCancelled, s.storedState(id))
	released(id, true)

	id = held()
	s.expireOne(t, payflow.DefaultHoldTTL, id)
	released(id, false)
}

// unspent checks that the ledger holds no transfer under any of ids and
// keeps none of them failed: a transfer under it between accounts that do
// not exist is refused for that (debit_account_not_found), not as an ID
// that failed before (id_already_failed). The check spends the IDs.
func (s *Shop) unspent(t *testing.T, ids ...ledger.ID) {
	t.Helper()
	ctx := context.Background()
	found, err := s.Ledger.LookupTransfers(ctx, ids)
	require.NoError(t, err)
	assert.Empty(t, found)
	for _, id := range ids {
		res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
			ID: id, DebitAccountID: ledger.IDFromUint64(1), CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 978, Code: 9,
		}})
		require.NoError(t, err)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferDebitAccountNotFound}, res, "transfer %v", id)
	}
}
