package payflow_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/pki/record"
)

// TestPhonesRefuseReceiptOfOtherTransferCount: a payment receipt signed
// with the platform's key carries one ledger transfer ID for the money
// and one for each asset leg of the signed request; one of basket (an
// amount, no legs) with another count of transfer IDs, two, is
// ErrMismatch on both phones, the shopper charged once: the shopper's
// Approve keeps the consent, the seller's Wait returns no receipt, and
// once the platform answers with the receipt it holds, with its one
// transfer ID, each takes it.
func TestPhonesRefuseReceiptOfOtherTransferCount(t *testing.T) {
	for _, shopper := range []bool{true, false} {
		t.Run(map[bool]string{true: "shopper", false: "seller"}[shopper], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 690, 690)
			restated.alter = func(rc *record.Receipt) {
				other := append([]byte(nil), rc.TransferIDs[0]...)
				other[0] ^= 1
				rc.TransferIDs = append(rc.TransferIDs, other)
			}
			rc := w.requireRestatedRefused(t, restated, restated, shopper, nil)
			assert.Len(t, rc.TransferIDs, 1)
		})
	}
}
