package paytest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// approvalIDTaken: a consent to a request one of whose hold chain's IDs
// the ledger holds as a transfer that is not the platform's (written by
// another client of the ledger: under a post's ID with auto capture, under
// the money leg's hold ID with manual capture) is refused with
// ErrConflict, as a hold the ledger refused: nothing moves, the request is
// pending again with the consent spent (ErrReplay when sent again), and
// the recovery sweep finds nothing under way. The request then ends as
// any pending one: a second consent, whose holds and posts take the IDs of
// the next attempt, settles it and charges the payer once; the merchant
// cancels it; or it expires.
func approvalIDTaken(t *testing.T, newShop func(t *testing.T, manual bool) *Shop) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		manual bool
		kind   byte
	}{
		{"AutoCapturePostIDTaken", false, kindPost},
		{"ManualCaptureHoldIDTaken", true, kindHold},
	} {
		for _, end := range []string{"ConsentedAgain", payflow.StateCancelled, payflow.StateExpired} {
			t.Run(c.name+"/"+end, func(t *testing.T) {
				s := newShop(t, c.manual)
				id := s.createPending(1000, record.Leg{Asset: Ticket, Amount: 1}).ID
				taken := payflow.TransferID(id, 1, 0, c.kind)
				s.takeID(taken)
				eur := [2]payflow.Balance{{Posted: Funds - 1}, {Posted: 1}}
				require.Equal(t, eur, s.Balances("EUR"), "the transfer under the taken ID")

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
				assert.Equal(t, eur, s.Balances("EUR"), "nothing moved")
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
					s.Clock.Advance(payflow.DefaultRequestTTL)
					s.RefreshCRLs()
					n, err := s.Platform.ExpireDue(ctx, 0)
					require.NoError(t, err)
					assert.Equal(t, 1, n, "the request expired")
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
}
