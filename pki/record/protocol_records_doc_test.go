package record

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolRecordFieldRefusals pins the field rules of PROTOCOL.md §3.2
// to §3.6 that TestValidate leaves out: each record below breaks one rule,
// and Marshal refuses it with the FieldError that names the field. Among
// them: "IDs are 16-byte byte strings ..., nonces and hashes 32-byte byte
// strings, EIDs 16-byte byte strings", so that a field one byte longer is
// refused as a shorter one is; a consent's amount "at most 2^63−1"; a
// receipt's request hash "bstr 32", its amount, currency and merchant ID,
// held to the common rules.
func TestProtocolRecordFieldRefusals(t *testing.T) {
	longer := func(b []byte) []byte { return append(bytes.Clone(b), b[0]) }
	refundReceipt := func(r Record) *Receipt {
		rc := r.(*Receipt)
		rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash, rc.Lines = ReceiptRefund, nil, id(0xE4), n32(0xE5), nil
		return rc
	}
	for _, tc := range []struct {
		name string
		base string
		m    func(Record)
		want FieldError
	}{
		{"§3.2 peer EID of 15 bytes", "auth-proof", func(r Record) { r.(*AuthProof).PeerEID = id(0x22)[:15] },
			FieldError{"peer EID", "must be 16 bytes, not 15"}},
		{"§3.3 item quantity over 2^63-1", "payment-request", func(r Record) { r.(*PaymentRequest).Items[1].Quantity = 1 << 63 },
			FieldError{"quantity", "exceeds 2^63-1"}},
		{"§3.3 empty SKU", "payment-request", func(r Record) { r.(*PaymentRequest).Items[0].SKU = "" },
			FieldError{"SKU", "must be 1 to 64 bytes"}},
		{"§3.3 leg asset ending with a space", "payment-request", func(r Record) {
			r.(*PaymentRequest).Legs = []Leg{{Asset: "TICKET ", Amount: 1}}
		}, FieldError{"asset", "must not start or end with a space"}},
		{"§3.4 nonce of 16 bytes", "consent", func(r Record) { r.(*Consent).Nonce = id(0xC3) },
			FieldError{"nonce", "must be 32 bytes, not 16"}},
		{"§3.5 lower-case currency", "refund-request", func(r Record) { r.(*RefundRequest).Currency = "eur" },
			FieldError{"currency", "must be an ISO 4217 code of three capital letters"}},
		{"§3.6 refund ID alone in a payment receipt", "receipt", func(r Record) { r.(*Receipt).RefundID = id(0xE4) },
			FieldError{"refund ID", "must be absent from a payment receipt"}},
		{"§3.6 refund hash alone in a payment receipt", "receipt", func(r Record) { r.(*Receipt).RefundHash = n32(0xE5) },
			FieldError{"refund hash", "must be absent from a payment receipt"}},
		{"§3.6 refund receipt without refund hash", "receipt", func(r Record) { refundReceipt(r).RefundHash = nil },
			FieldError{"refund hash", "must be 32 bytes, not 0"}},
		{"§3.6 17 transfer IDs", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.TransferIDs = nil
			for i := range maxTransfer + 1 {
				rc.TransferIDs = append(rc.TransferIDs, id(byte(i+1)))
			}
		}, FieldError{"transfer IDs", "must number 1 to 16"}},
		{"§3.6 unit price over 2^63-1", "receipt", func(r Record) { r.(*Receipt).Lines[0].UnitPrice = 1 << 63 },
			FieldError{"unit price", "exceeds 2^63-1"}},
		{"§3.6 line name with a zero width space", "receipt", func(r Record) { r.(*Receipt).Lines[0].Name = "App\u200ble" },
			FieldError{"name", "must not contain format characters or other default-ignorable code points"}},
		{"§3.6 nine legs", "receipt", func(r Record) {
			r.(*Receipt).Legs = slices.Repeat([]Leg{{Asset: "TICKET", Amount: 1}}, MaxLegs+1)
		}, FieldError{"legs", "more than 8"}},
		{"auth proof nonce", "auth-proof", func(r Record) { p := r.(*AuthProof); p.Nonce = longer(p.Nonce) },
			FieldError{"nonce", "must be 32 bytes, not 33"}},
		{"auth proof EID", "auth-proof", func(r Record) { p := r.(*AuthProof); p.EID = longer(p.EID) },
			FieldError{"EID", "must be 16 bytes, not 17"}},
		{"auth proof peer EID", "auth-proof", func(r Record) { p := r.(*AuthProof); p.PeerEID = longer(p.PeerEID) },
			FieldError{"peer EID", "must be 16 bytes, not 17"}},
		{"request ID", "payment-request", func(r Record) { p := r.(*PaymentRequest); p.RequestID = longer(p.RequestID) },
			FieldError{"request ID", "must be 16 bytes, not 17"}},
		{"session ID", "payment-request", func(r Record) { p := r.(*PaymentRequest); p.SessionID = longer(p.SessionID) },
			FieldError{"session ID", "must be 16 bytes, not 17"}},
		{"consent request hash", "consent", func(r Record) { c := r.(*Consent); c.RequestHash = longer(c.RequestHash) },
			FieldError{"request hash", "must be 32 bytes, not 33"}},
		{"consent nonce", "consent", func(r Record) { c := r.(*Consent); c.Nonce = longer(c.Nonce) },
			FieldError{"nonce", "must be 32 bytes, not 33"}},
		{"refund ID", "refund-request", func(r Record) { rr := r.(*RefundRequest); rr.RefundID = longer(rr.RefundID) },
			FieldError{"refund ID", "must be 16 bytes, not 17"}},
		{"receipt consent hash", "receipt", func(r Record) { rc := r.(*Receipt); rc.ConsentHash = longer(rc.ConsentHash) },
			FieldError{"consent hash", "must be 32 bytes, not 33"}},
		{"receipt transfer ID", "receipt", func(r Record) { rc := r.(*Receipt); rc.TransferIDs[1] = longer(rc.TransferIDs[1]) },
			FieldError{"transfer ID", "must be 16 bytes, not 17"}},
		{"refund receipt refund hash", "receipt", func(r Record) { rc := refundReceipt(r); rc.RefundHash = longer(rc.RefundHash) },
			FieldError{"refund hash", "must be 32 bytes, not 33"}},
		{"§3.4 amount over 2^63-1", "consent", func(r Record) { r.(*Consent).Amount = 1 << 63 },
			FieldError{"amount", "exceeds 2^63-1"}},
		{"§3.6 request hash of 31 bytes", "receipt", func(r Record) { rc := r.(*Receipt); rc.RequestHash = rc.RequestHash[:31] },
			FieldError{"request hash", "must be 32 bytes, not 31"}},
		{"§3.6 amount over 2^63-1", "receipt", func(r Record) { r.(*Receipt).Amount = 1 << 63 },
			FieldError{"amount", "exceeds 2^63-1"}},
		{"§3.6 lower-case currency", "receipt", func(r Record) { r.(*Receipt).Currency = "eur" },
			FieldError{"currency", "must be an ISO 4217 code of three capital letters"}},
		{"§3.6 empty merchant ID", "receipt", func(r Record) { r.(*Receipt).MerchantID = "" },
			FieldError{"merchant ID", "must be 1 to 64 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := samples()[tc.base]
			require.NoError(t, r.Validate(), "the sample itself")
			tc.m(r)
			requireRefused(t, r, tc.want)
		})
	}
}

// TestProtocolRequestWithLegsOnly pins PROTOCOL.md §3.3 key 8: a payment
// request of legs alone has a zero amount, which its encoding leaves out,
// and decodes back as it was.
func TestProtocolRequestWithLegsOnly(t *testing.T) {
	r := samples()["payment-request"].(*PaymentRequest)
	r.Amount, r.Items, r.Legs = 0, nil, []Leg{{Asset: "TICKET", Amount: 2}}
	payload, err := Marshal(r)
	require.NoError(t, err)
	var m map[uint64]cbor.RawMessage
	require.NoError(t, cbor.Unmarshal(payload, &m))
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 10}, slices.Sorted(maps.Keys(m)), "no key 8")
	var back PaymentRequest
	require.NoError(t, Unmarshal(payload, &back))
	assert.Equal(t, r, &back)
}

// TestProtocolRequestTTLBound pins PROTOCOL.md §3.3 key 11: a TTL of
// 2^32−1 seconds decodes, one of 2^32 is malformed.
func TestProtocolRequestTTLBound(t *testing.T) {
	r := samples()["payment-request"].(*PaymentRequest)
	r.TTL = 1
	payload, err := Marshal(r)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(payload, []byte{0x0b, 0x01}), "key 11, the last, is 1")
	base := payload[:len(payload)-1]

	maxTTL := append(bytes.Clone(base), 0x1a, 0xff, 0xff, 0xff, 0xff)
	var got PaymentRequest
	require.NoError(t, Unmarshal(maxTTL, &got))
	assert.Equal(t, uint32(1<<32-1), got.TTL)

	over := append(bytes.Clone(base), 0x1b, 0, 0, 0, 1, 0, 0, 0, 0)
	assert.ErrorIs(t, Unmarshal(over, new(PaymentRequest)), ErrMalformed)
}
