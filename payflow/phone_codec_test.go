package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestPhoneDeploymentUUID: a deployment that gives its cards its own
// service UUID (PROTOCOL.md §1.1) gives its phones the same codec
// (PhoneOptions.Codec): the phone reads its card's EID from the card's
// advert under that UUID, and logs in with it.
func TestPhoneDeploymentUUID(t *testing.T) {
	ctx := context.Background()
	codec := adv.Codec{UUID: 0x1234}
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	v, err := simcardtest.NewCard(f.Issuer, simcardtest.Options{Applet: applet.Options{Codec: codec}})
	require.NoError(t, err)
	_, err = f.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, "Alice")
	require.NoError(t, err)

	opts := phoneOptions(f, f.Platform)
	opts.Codec = codec
	shopper, err := payflow.NewShopper(v.Card, opts)
	require.NoError(t, err)
	want, err := adv.DeriveEID(v.Enrolment.AdvertisingSecret, adv.Epoch(f.Clock.Now()))
	require.NoError(t, err)
	eid, err := shopper.EID()
	require.NoError(t, err)
	assert.Equal(t, want, eid)
	raw, err := shopper.Advert()
	require.NoError(t, err)
	p, err := codec.Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, want, p.EID)
	_, err = shopper.Login(ctx)
	require.NoError(t, err)

	// The phone of the default codec does not take the card's advert for
	// one of casimpay's under the placeholder UUID.
	shopper, err = payflow.NewShopper(v.Card, phoneOptions(f, f.Platform))
	require.NoError(t, err)
	_, err = shopper.EID()
	require.ErrorIs(t, err, adv.ErrForeign)
}
