package applet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnvelopeMatchesRecordSign checks that the card's own envelope is
// byte for byte what record.Sign writes, given the same randomness.
func TestEnvelopeMatchesRecordSign(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	h := record.CardHeader{CardID: "89014103211118510720", Counter: 42}
	id := func(b byte) []byte { return []byte(strings.Repeat(string([]byte{b}), 16)) }
	h32 := func(b byte) []byte { return []byte(strings.Repeat(string([]byte{b}), 32)) }
	items := make([]record.Item, 60)
	for i := range items {
		items[i] = record.Item{SKU: "sku-" + strings.Repeat("x", 40), Quantity: uint64(i + 1)}
	}
	for _, r := range []record.CardRecord{
		&record.AuthProof{CardHeader: h, Nonce: h32(1), Role: record.RoleSeller, EID: id(2), PeerEID: id(3)},
		&record.PaymentRequest{CardHeader: h, RequestID: id(1), SessionID: id(2), PayerCardID: "8986001234567890120",
			MerchantID: "grocer-1", Currency: "EUR", Amount: 6000, Items: items},
		&record.Consent{CardHeader: h, RequestID: id(1), RequestHash: h32(2), Nonce: h32(3), Amount: 5, Currency: "EUR", MerchantID: "m"},
		&record.RefundRequest{CardHeader: h, RefundID: id(4), RequestID: id(1), Amount: 5, Currency: "EUR"},
	} {
		t.Run(r.Type().String(), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, 7)
			want, err := record.Sign(rand.Reader, key, r)
			require.NoError(t, err)
			payload, err := record.Marshal(r)
			require.NoError(t, err)
			cryptotest.SetGlobalRandom(t, 7)
			prot, err := envelope(r.Type(), payload)
			require.NoError(t, err)
			got, err := signEnvelope(ecdsa.Sign, rand.Reader, key, prot, payload)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			require.NoError(t, record.Verify(got, &key.PublicKey, r))
		})
	}
	_, err = envelope(record.TypeReceipt, []byte{0xA0})
	assert.ErrorIs(t, err, errEnvelope, "a card signs no receipt")
	_, err = envelope(record.TypeConsent, make([]byte, record.MaxMessage))
	assert.ErrorIs(t, err, errEnvelope)
}

// TestEnvelopeSize: envelope refuses exactly the payloads whose message
// would exceed record.MaxMessage.
func TestEnvelopeSize(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	longest, refused := 0, 0
	for n := record.MaxMessage - 200; n <= record.MaxMessage; n++ {
		payload := make([]byte, n)
		prot, err := envelope(record.TypePaymentRequest, payload)
		if err != nil {
			require.ErrorIs(t, err, errEnvelope)
			refused++
			continue
		}
		msg, err := signEnvelope(ecdsa.Sign, rand.Reader, key, prot, payload)
		require.NoError(t, err)
		require.LessOrEqual(t, len(msg), record.MaxMessage)
		longest = max(longest, len(msg))
	}
	assert.Equal(t, record.MaxMessage, longest)
	assert.NotZero(t, refused)
}

// TestEnvelopeSignatureIsLowS: the card writes every signature in its
// low-S form, the one record.Verify accepts; a random ECDSA signature has
// s above n/2 half of the time.
func TestEnvelopeSignatureIsLowS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := &record.Consent{CardHeader: record.CardHeader{CardID: "8986001234567890120", Counter: 1},
		RequestID: make([]byte, 16), RequestHash: make([]byte, 32), Nonce: make([]byte, 32), Amount: 5, Currency: "EUR", MerchantID: "m"}
	c.RequestID[0], c.RequestHash[0], c.Nonce[0] = 1, 2, 3
	payload, err := record.Marshal(c)
	require.NoError(t, err)
	prot, err := envelope(record.TypeConsent, payload)
	require.NoError(t, err)
	for i := range 32 {
		msg, err := signEnvelope(ecdsa.Sign, rand.Reader, key, prot, payload)
		require.NoError(t, err)
		require.NoError(t, record.Verify(msg, &key.PublicKey, new(record.Consent)), "signature %d", i)
	}
}
