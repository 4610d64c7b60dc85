package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestSellerReceiptIsTheAppsOwn: the receipt that the seller's Wait
// returns is the app's own, whether the phone verifies receipts by their
// chain or with the platform's key pinned: writing into its signed bytes
// leaves the receipt of the request on screen as the platform signed it.
func TestSellerReceiptIsTheAppsOwn(t *testing.T) {
	ctx := context.Background()
	for _, pinned := range []bool{false, true} {
		t.Run(map[bool]string{false: "Verifier", true: "PlatformKey"}[pinned], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.pinned = pinned
			w.useSeller(t, w.f.Platform)
			w.pair(t)
			w.request(t)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			v, rc, err := w.seller.Wait(ctx)
			require.NoError(t, err)
			require.Equal(t, payflow.StateCaptured, v.State)
			signed := bytes.Clone(rc.Signed)
			rc.Signed[0] ^= 0xff
			on := payflow.Screen(w.seller)
			require.NotNil(t, on)
			assert.Equal(t, signed, on.Receipt)
		})
	}
}
