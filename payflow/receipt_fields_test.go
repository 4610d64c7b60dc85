package payflow_test

import (
	"testing"

	"github.com/casimpay/casimpay/pki/record"
)

// TestPhonesRefuseReceiptOfOtherFields: a captured view whose receipt,
// signed with the platform's key for the amount captured, is of another
// request ID or request hash, merchant, currency or payer card than the
// request paid is ErrMismatch on both phones: the shopper's Approve keeps
// the consent, the seller's Wait keeps the request on screen, and once the
// platform shows the payment with its own receipt, each takes it, the
// shopper charged once (requireRestatedRefused).
func TestPhonesRefuseReceiptOfOtherFields(t *testing.T) {
	for name, alter := range map[string]func(w *phoneWorld, rc *record.Receipt){
		"request ID":   func(_ *phoneWorld, rc *record.Receipt) { rc.RequestID[0] ^= 1 },
		"request hash": func(_ *phoneWorld, rc *record.Receipt) { rc.RequestHash[0] ^= 1 },
		"merchant":     func(_ *phoneWorld, rc *record.Receipt) { rc.MerchantID = "other-shop" },
		"currency":     func(_ *phoneWorld, rc *record.Receipt) { rc.Currency = "USD" },
		"payer card":   func(w *phoneWorld, rc *record.Receipt) { rc.PayerCardID = w.sellerCard.Enrolment.ICCID },
	} {
		for role, shopper := range map[string]bool{"shopper": true, "seller": false} {
			t.Run(name+"/"+role, func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 690, 690)
				restated.alter = func(rc *record.Receipt) { alter(w, rc) }
				w.requireRestatedRefused(t, restated, restated, shopper, nil)
			})
		}
	}
}
