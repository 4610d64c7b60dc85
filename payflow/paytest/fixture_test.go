package paytest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// oddRecord is a card record of no type that a card signs.
type oddRecord struct{ record.CardHeader }

func (*oddRecord) Type() record.Type  { return 0 }
func (*oddRecord) Validate() error    { return nil }
func (*oddRecord) FreshNonce() []byte { return nil }

// TestSignRefusesUnknownRecords: Card.Sign answers a record it cannot
// sign, or none, with an error, on a virtual card as on a soft one.
func TestSignRefusesUnknownRecords(t *testing.T) {
	for _, soft := range []bool{false, true} {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{SoftCards: soft})
		c := f.NewCard("Ana")
		for _, r := range []record.CardRecord{nil, &oddRecord{}} {
			var msg []byte
			var err error
			assert.NotPanics(t, func() { msg, err = c.Sign(r) }, "soft %v, %T", soft, r)
			assert.Error(t, err, "soft %v, %T", soft, r)
			assert.Nil(t, msg)
		}
	}
}
