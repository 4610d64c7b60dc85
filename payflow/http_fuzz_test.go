package payflow

import (
	"bytes"
	"testing"
	"time"
)

// wireRequestTypes are the request bodies the handler decodes, by the
// kind byte of FuzzWireRequest.
var wireRequestTypes = []func() any{
	func() any { return new(ChallengeRequest) },
	func() any { return new(LoginRequest) },
	func() any { return new(ResolveRequest) },
	func() any { return new(PairRequest) },
	func() any { return new(CreateRequest) },
	func() any { return new(ApproveRequest) },
	func() any { return new(CaptureRequest) },
	func() any { return new(RefundRequest) },
}

// wireReplyTypes are the reply bodies the client decodes, by the kind
// byte of FuzzWireReply.
var wireReplyTypes = []func() any{
	func() any { return new(ChallengeResponse) },
	func() any { return new(LoginResponse) },
	func() any { return new(ResolveResponse) },
	func() any { return new(SessionView) },
	func() any { return new(Catalog) },
	func() any { return new(PaymentView) },
	func() any { return new(RefundView) },
	func() any { return new(Info) },
	func() any { return new(errorBody) },
}

// wireRequestSeeds returns valid bodies of each request kind.
func wireRequestSeeds() [][]byte {
	id := ID{1, 2, 3}
	vs := []any{
		&ChallengeRequest{CardID: "8944100000000000009"},
		&LoginRequest{Proof: []byte{0xd2, 0x84}},
		&ResolveRequest{EID: bytes.Repeat([]byte{7}, 16)},
		&PairRequest{Proof: []byte{0xd2, 0x84, 0x43}},
		&CreateRequest{Request: []byte{0xd2}},
		&ApproveRequest{Consent: []byte{0xd2, 0x84, 0x00}},
		&CaptureRequest{RequestID: id, Amount: 250},
		&RefundRequest{Refund: []byte{0xd2, 0x01}},
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i], _ = wireEnc.Marshal(v)
	}
	return out
}

func wireReplySeeds() [][]byte {
	at := time.Unix(1_800_000_000, 0)
	vs := []any{
		&ChallengeResponse{Nonce: bytes.Repeat([]byte{9}, 32), ExpiresAt: at},
		&LoginResponse{Token: "tok", CardID: "8944100000000000009", DisplayName: "Ana", MerchantID: "m1", ExpiresAt: at},
		&ResolveResponse{DisplayName: "Grocer", Role: 2, MerchantID: "m1"},
		&SessionView{ID: ID{1}, State: SessionPaired, PairingCode: "123456", ShopperCardID: "8944100000000000009", SellerCardID: "8944100000000000017", MerchantID: "m1", ShopperName: "Ana", MerchantName: "Grocer", ExpiresAt: at},
		&Catalog{MerchantID: "m1", Currency: "EUR", Items: []CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 45}}},
		&PaymentView{ID: ID{2}, SessionID: ID{1}, State: StateCaptured, MerchantID: "m1", MerchantName: "Grocer", PayerCardID: "8944100000000000009", Currency: "EUR", Amount: 90,
			Lines: []Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 45, Amount: 90}}, Legs: []AssetLeg{{Asset: "ticket", Amount: 1}},
			Request: []byte{0xd2}, RequestHash: bytes.Repeat([]byte{1}, 32), ExpiresAt: at, Captured: 90, Receipt: []byte{0xd2, 0x84}},
		&RefundView{ID: ID{3}, RequestID: ID{2}, Amount: 10, Currency: "EUR", Refunded: 10, Receipt: []byte{0xd2}},
		&Info{Chain: [][]byte{{0x30, 0x82}, {0x30, 0x81}}},
		&errorBody{Code: "rate_limited", Message: "too many EID resolutions", RetryAfter: 2},
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i], _ = wireEnc.Marshal(v)
	}
	return out
}

// wireRoundTrip checks that a decoded value encodes to bytes that decode
// to a value with the same encoding.
func wireRoundTrip(t *testing.T, v any, fresh func() any, decode func([]byte, any) error) {
	enc, err := wireEnc.Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	w := fresh()
	if err := decode(enc, w); err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	enc2, err := wireEnc.Marshal(w)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed the encoding: %x != %x (%v)", enc, enc2, err)
	}
}

func FuzzWireRequest(f *testing.F) {
	for i, b := range wireRequestSeeds() {
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'})
	f.Add(uint8(6), []byte{0xbf, 0x01, 0x41, 0x00, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fresh := wireRequestTypes[int(kind)%len(wireRequestTypes)]
		v := fresh()
		if err := wireDecode(data, v); err != nil {
			if AsError(err).Code != "invalid" {
				t.Fatalf("decoding error %v is not invalid", err)
			}
			return
		}
		wireRoundTrip(t, v, fresh, wireDecode)
	})
}

func FuzzWireReply(f *testing.F) {
	for i, b := range wireReplySeeds() {
		f.Add(uint8(i), b)
	}
	f.Add(uint8(8), []byte{0xa1, 0x01, 0x63, 'a', 'b', 'c'})
	f.Add(uint8(4), []byte{0xa1, 0x03, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	// Times: text, floating-point and undefined ones are refused, null
	// is the zero time.
	f.Add(uint8(0), append([]byte{0xa1, 0x02, 0x74}, "2027-01-15T08:00:00Z"...))
	f.Add(uint8(5), []byte{0xa1, 0x0e, 0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00})
	f.Add(uint8(3), []byte{0xa1, 0x09, 0xf7})
	f.Add(uint8(1), []byte{0xa1, 0x05, 0xf6})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		fresh := wireReplyTypes[int(kind)%len(wireReplyTypes)]
		v := fresh()
		if err := wireDecodeReply(data, v); err != nil {
			return
		}
		wireRoundTrip(t, v, fresh, wireDecodeReply)
	})
}
