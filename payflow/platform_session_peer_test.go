package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestWaitingSessionShowsNoPeerCardID: a card that names an EID it heard
// learns the card ID behind it only once that card has named it too.
// Until the session is paired, every view of it (the pairing's answer,
// Session, over HTTP too) shows the asking card its own card ID, the
// merchant and the names, and no card ID of the other card; the paired
// session shows both card IDs to both cards.
func TestWaitingSessionShowsNoPeerCardID(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		// prober is the role of the card that names the other's EID.
		prober record.Role
	}{
		{"seller names a passer-by", record.RoleSeller},
		{"shopper names a till", record.RoleShopper},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			client, err := payflow.NewClient(serve(t, s.Fixture), payflow.ClientOptions{})
			require.NoError(t, err)
			passer := s.NewCard("Passer-by")
			passer.Login(record.RoleShopper)
			shopper, seller := passer, s.seller
			prober, victim := seller, shopper
			if tt.prober == record.RoleShopper {
				prober, victim = shopper, seller
			}
			victimRole := record.RoleShopper + record.RoleSeller - tt.prober
			waiting := &payflow.SessionView{
				ID:            payflow.SessionID(shopper.ID, seller.ID, shopper.EID(), seller.EID()),
				State:         payflow.SessionWaiting,
				PairingCode:   adv.PairingCode(adv.EID(shopper.EID()), adv.EID(seller.EID())),
				ShopperCardID: shopper.ID, SellerCardID: seller.ID, MerchantID: merchantID,
				ShopperName: "Passer-by", MerchantName: "Corner Grocer",
			}
			if tt.prober == record.RoleSeller {
				waiting.ShopperCardID = ""
			} else {
				waiting.SellerCardID = ""
			}

			v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: prober.Proof(tt.prober, victim.EID())})
			require.NoError(t, err)
			waiting.ExpiresAt = v.ExpiresAt
			assert.Equal(t, waiting, v, "the pairing's answer")
			v, err = s.Platform.Session(ctx, prober.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, waiting, v, "the session read")
			v, err = client.Session(ctx, prober.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, sameExpiry(waiting, v), v, "the session read over HTTP")
			// The card named sees the session too, with its own card ID
			// only.
			v, err = s.Platform.Session(ctx, victim.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, victim.ID, v.ShopperCardID+v.SellerCardID, "the other card's view shows its own card ID alone")

			// Once the card named confirms, both see both card IDs.
			paired := *waiting
			paired.State, paired.ShopperCardID, paired.SellerCardID = payflow.SessionPaired, shopper.ID, seller.ID
			v, err = client.Pair(ctx, &payflow.PairRequest{Proof: victim.Proof(victimRole, prober.EID())})
			require.NoError(t, err)
			assert.Equal(t, sameExpiry(&paired, v), v, "the pairing's answer over HTTP")
			for _, c := range []*paytest.Card{prober, victim} {
				v, err = s.Platform.Session(ctx, c.Token, waiting.ID)
				require.NoError(t, err)
				assert.Equal(t, sameExpiry(&paired, v), v, "the paired session read by %s", c.ID)
			}
		})
	}
}

// sameExpiry returns a copy of want with got's expiry, which an answer
// over HTTP rounds up to the second.
func sameExpiry(want, got *payflow.SessionView) *payflow.SessionView {
	c := *want
	c.ExpiresAt = got.ExpiresAt
	return &c
}
