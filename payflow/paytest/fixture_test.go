package paytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// oddRecord is a card record of no type that a card signs.
type oddRecord struct{ record.CardHeader }

func (*oddRecord) Type() record.Type  { return 0 }
func (*oddRecord) Validate() error    { return nil }
func (*oddRecord) FreshNonce() []byte { return nil }

// TestSignRefusesUnknownRecords: Card.Sign returns no message and an
// exact error, without a panic, on a virtual card as on a soft one: for
// no record, "no record to sign"; for a record of no type of the
// protocol, the virtual card's "signs no record of type", and for a soft
// card record.Sign's record.ErrType.
func TestSignRefusesUnknownRecords(t *testing.T) {
	for _, soft := range []bool{false, true} {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{SoftCards: soft})
		c := f.NewCard("Ana")
		odd := "paytest: a card signs no record of type *paytest_test.oddRecord"
		if soft {
			odd = "record: wrong record type: record-type(0) is no record type of the protocol"
		}
		for r, want := range map[record.CardRecord]string{nil: "paytest: no record to sign", &oddRecord{}: odd} {
			var msg []byte
			var err error
			assert.NotPanics(t, func() { msg, err = c.Sign(r) }, "soft %v, %T", soft, r)
			assert.EqualError(t, err, want, "soft %v, %T", soft, r)
			if soft && r != nil {
				assert.ErrorIs(t, err, record.ErrType)
			}
			assert.Nil(t, msg)
		}
	}
}

// TestShopSessionAfterEpochEnd: a shop whose fixture starts half a
// second before the end of an EID epoch by the wall clock keeps its
// cards' EIDs when a test advances its clock by a second: the shopper's
// pairing proof, signed then and naming the seller's EID of then, lands
// in the shop's session, paired, as it does at any other time of day.
func TestShopSessionAfterEpochEnd(t *testing.T) {
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	paytest.SetWallClock(t, func() time.Time { return end.Add(-500 * time.Millisecond) })
	s := paytest.NewShop(paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{}), false)
	s.Clock.Advance(time.Second)
	proof := s.Shopper.Proof(record.RoleShopper, s.Seller.EID())
	v, err := s.Platform.Pair(context.Background(), &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, s.Session.ID, v.ID, "the shop's session")
	assert.Equal(t, payflow.SessionPaired, v.State)
}
