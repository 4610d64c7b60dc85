package payflow

import "sync/atomic"

// CountReceiptSignatures has s count the receipt signatures that it
// checks from now on, and returns the count.
func CountReceiptSignatures(s *Shopper) *atomic.Int64 {
	n := new(atomic.Int64)
	s.signatureChecked = func() { n.Add(1) }
	return n
}
