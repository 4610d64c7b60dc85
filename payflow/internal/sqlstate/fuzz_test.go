package sqlstate

import (
	"testing"

	"github.com/casimpay/casimpay/payflow"
)

// FuzzDecodeStored feeds arbitrary bytes to the decoder of the CBOR columns
// (line items, legs, certificate chains): it must return an error or a
// value, never panic, and what it accepts must encode again.
func FuzzDecodeStored(f *testing.F) {
	f.Add(enc([]payflow.Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120, Amount: 240}}))
	f.Add(enc([]payflow.AssetLeg{{Asset: "ticket", Amount: 1}}))
	f.Add(enc([][]byte{{1, 2, 3}, {4}}))
	f.Add([]byte{0x9f, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var lines []payflow.Line
		if dec(b, &lines) == nil && len(b) > 0 {
			enc(lines)
		}
		var legs []payflow.AssetLeg
		if dec(b, &legs) == nil && len(b) > 0 {
			enc(legs)
		}
		var chain [][]byte
		if dec(b, &chain) == nil && len(b) > 0 {
			enc(chain)
		}
	})
}
