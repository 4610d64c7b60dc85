package payflow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// iccidCountingCard is a shopper card that counts how often its ICCID is
// read.
type iccidCountingCard struct {
	payflow.ShopperCard
	reads atomic.Int64
}

func (c *iccidCountingCard) ICCID() (string, error) {
	c.reads.Add(1)
	return c.ShopperCard.ICCID()
}

// TestPhoneReadsTheCardIDOnce: a phone reads its card's ICCID once, and
// answers CardID and signs its logins with the one it read.
func TestPhoneReadsTheCardIDOnce(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	card := &iccidCountingCard{ShopperCard: w.shopperCard.Card}
	shopper, err := payflow.NewShopper(card, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	for range 2 {
		id, err := shopper.CardID()
		require.NoError(t, err)
		assert.Equal(t, w.shopperCard.Enrolment.ICCID, id)
	}
	l, err := shopper.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, w.shopperCard.Enrolment.ICCID, l.CardID)
	assert.Equal(t, int64(1), card.reads.Load())
}

// TestPhoneEIDInTheFirstEpoch: a phone whose clock reads the first EID
// epoch (a clock set back to 1970) takes its EID for that epoch from its
// card's advert, as for any other.
func TestPhoneEIDInTheFirstEpoch(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	opts := phoneOptions(w.f, w.f.Platform)
	opts.Now = func() time.Time { return time.Unix(0, 0) }
	shopper, err := payflow.NewShopper(w.shopperCard.Card, opts)
	require.NoError(t, err)
	want, err := adv.DeriveEID(w.shopperCard.Enrolment.AdvertisingSecret, 0)
	require.NoError(t, err)
	require.NotEqual(t, adv.EID{}, want)
	for range 2 {
		eid, err := shopper.EID()
		require.NoError(t, err)
		assert.Equal(t, want, eid)
	}
}
