package payflow

import (
	"sync/atomic"

	"github.com/casimpay/casimpay/pki/record"
)

// CountReceiptSignatures has s count the receipt signatures that it
// checks from now on, and returns the count.
func CountReceiptSignatures(s *Shopper) *atomic.Int64 {
	n := new(atomic.Int64)
	s.signatureChecked = func() { n.Add(1) }
	return n
}

// CountReceiptDecodes has s count the receipt messages that it decodes
// from now on, and returns the count.
func CountReceiptDecodes(s *Shopper) *atomic.Int64 {
	n := new(atomic.Int64)
	s.receiptDecoded = func() { n.Add(1) }
	return n
}

// SetNextRequestIndex has the next payment request of the session that s
// selected take index n, also one that s moved past (Seller.Request): a
// state that no answer of the platform leads a Seller to, in which the
// card signs another request under the ID of one recorded, so that tests
// can check that a view of such a request is never taken as the one on
// screen under that ID.
func SetNextRequestIndex(s *Seller, n uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = n
}

// OnScreenRead has s call fn each time a Request or Select read the
// request on screen to withdraw it, before it reads that request from the
// platform, so that tests can have a call of another goroutine land
// there.
func OnScreenRead(s *Seller, fn func()) {
	s.screenRead = fn
}

// OnRefundTurn has s call fn each time a Refund or RefundPayment is about
// to wait for its turn among the refunds, so that tests can have the
// platform's certificate expire while it waits.
func OnRefundTurn(s *Seller, fn func()) {
	s.refundWaits = fn
}

// CheckToSign is the check that Request makes of r before the card of s
// signs it (checkToSign), with the card header that card adds.
func CheckToSign(s *Seller, r *record.PaymentRequest) error {
	return checkSigned(s, r)
}

// SawPaid reports whether s remembers the request id as one that it saw
// paid (Seller.paid).
func SawPaid(s *Seller, id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sawPaidLocked(id)
}

// Screen returns a copy of the view of the request on the screen of s, as
// kept, without reading the platform; nil for none.
func Screen(s *Seller) *PaymentView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneView(s.payment)
}

// ErrOriginRedirect is the refusal of a redirect that would carry a
// call's bearer token, Idempotency-Key or body to another origin.
var ErrOriginRedirect = errOriginRedirect

// ErrReselected is the error of a call in a session that was left, or
// another selected, meanwhile.
var ErrReselected = errReselected
