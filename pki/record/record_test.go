package record

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/veraison/go-cose"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func id(b byte) []byte  { return bytes.Repeat([]byte{b}, IDSize) }
func n32(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

const (
	shopperCard = "8986001234567890120"
	sellerCard  = "8986009876543210989"
)

// samples returns one valid record of every type, each a fresh value.
func samples() map[string]Record {
	return map[string]Record{
		"auth-proof": &AuthProof{
			CardHeader: CardHeader{CardID: shopperCard, Counter: 7},
			Nonce:      n32(0xA1), Role: RoleShopper, EID: id(0x11), PeerEID: id(0x22),
		},
		"payment-request": &PaymentRequest{
			CardHeader: CardHeader{CardID: sellerCard, Counter: 42},
			RequestID:  id(0x01), SessionID: id(0x02), PayerCardID: shopperCard,
			MerchantID: "grocer-1", Currency: "EUR", Amount: 1234,
			Items: []Item{{SKU: "apple", Quantity: 3}, {SKU: "bread", Quantity: 1}},
		},
		"consent": &Consent{
			CardHeader: CardHeader{CardID: shopperCard, Counter: 8},
			RequestID:  id(0x01), RequestHash: n32(0xB2), Nonce: n32(0xC3),
			Amount: 1234, Currency: "EUR", MerchantID: "grocer-1",
		},
		"refund-request": &RefundRequest{
			CardHeader: CardHeader{CardID: sellerCard, Counter: 43},
			RefundID:   id(0x03), RequestID: id(0x01), Amount: 200, Currency: "EUR",
		},
		"receipt": &Receipt{
			Kind: ReceiptPayment, RequestID: id(0x01), RequestHash: n32(0xB2), ConsentHash: n32(0xD4),
			Amount: 1234, Currency: "EUR", PayerCardID: shopperCard, MerchantID: "grocer-1",
			TransferIDs: [][]byte{id(0x0A), id(0x0B)},
			Lines:       []Line{{SKU: "apple", Name: "Apple", Quantity: 3, UnitPrice: 300}, {SKU: "bread", Name: "Bread", Quantity: 1, UnitPrice: 334}},
			Time:        1_790_000_000_000,
		},
	}
}

func fresh(r Record) Record {
	switch r.(type) {
	case *AuthProof:
		return new(AuthProof)
	case *PaymentRequest:
		return new(PaymentRequest)
	case *Consent:
		return new(Consent)
	case *RefundRequest:
		return new(RefundRequest)
	default:
		return new(Receipt)
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := newKey(t)
	for name, r := range samples() {
		t.Run(name, func(t *testing.T) {
			msg, err := Sign(rand.Reader, key, r)
			require.NoError(t, err)
			got := fresh(r)
			require.NoError(t, Verify(msg, &key.PublicKey, got))
			assert.Equal(t, r, got)

			opened := fresh(r)
			require.NoError(t, Open(msg, opened))
			assert.Equal(t, r, opened)
		})
	}
}

// TestPayloadGolden freezes the deterministic payload of every record type.
func TestPayloadGolden(t *testing.T) {
	for name, r := range samples() {
		t.Run(name, func(t *testing.T) {
			payload, err := Marshal(r)
			require.NoError(t, err)
			path := filepath.Join("testdata", name+".cbor.hex")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(hex.EncodeToString(payload)+"\n"), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSpace(string(want)), hex.EncodeToString(payload))
			got := fresh(r)
			require.NoError(t, Unmarshal(payload, got))
			assert.Equal(t, r, got)
		})
	}
}

// fixedSigner is a crypto.Signer whose public key is pub and that signs
// nothing.
type fixedSigner struct{ pub crypto.PublicKey }

func (s fixedSigner) Public() crypto.PublicKey { return s.pub }

func (fixedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("fixedSigner signs nothing")
}

// pointerSigner is a crypto.Signer of a pointer type whose methods read
// through the pointer, as an HSM's may: a nil *pointerSigner panics in
// them.
type pointerSigner struct{ key *ecdsa.PrivateKey }

func (s *pointerSigner) Public() crypto.PublicKey { return s.key.Public() }

func (s *pointerSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}

// TestSignRefusesKeyWithoutPoint: Sign refuses with ErrKey, where it
// panicked, a nil signer, a nil pointer of a signer type, crypto/ecdsa's
// or another, an *ecdsa.PrivateKey without its private scalar (a public
// key alone), and one whose public key is nil or has no point; and, where
// it returned crypto/ecdsa's error, which matched none of its sentinels,
// an *ecdsa.PrivateKey whose private scalar is zero or not below n.
func TestSignRefusesKeyWithoutPoint(t *testing.T) {
	consent := samples()["consent"]
	k := newKey(t)
	_, err := Sign(rand.Reader, &pointerSigner{k}, consent)
	require.NoError(t, err, "a pointerSigner that is not nil")
	for name, key := range map[string]crypto.Signer{
		"public key only":       &ecdsa.PrivateKey{PublicKey: k.PublicKey},
		"nil signer":            nil,
		"nil *ecdsa.PrivateKey": (*ecdsa.PrivateKey)(nil),
		"nil *pointerSigner":    (*pointerSigner)(nil),
		"nil public key":        fixedSigner{(*ecdsa.PublicKey)(nil)},
		"no point":              fixedSigner{&ecdsa.PublicKey{Curve: elliptic.P256()}},
		// A private scalar out of range, zero or not below the order n,
		// with the point of a key: crypto/ecdsa signs with neither.
		"scalar zero":        withScalar(k, big.NewInt(0)),
		"scalar n":           withScalar(k, elliptic.P256().Params().N),
		"scalar of 33 bytes": withScalar(k, new(big.Int).Lsh(big.NewInt(1), 257)),
	} {
		_, err := Sign(rand.Reader, key, consent)
		assert.ErrorIs(t, err, ErrKey, name)
	}
}

// funcSigner is a crypto.Signer of a func type, the signer of the key it
// returns: a nil funcSigner panics in its methods, which call it.
type funcSigner func() *ecdsa.PrivateKey

func (f funcSigner) Public() crypto.PublicKey { return f().Public() }

func (f funcSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return f().Sign(rand, digest, opts)
}

// mapSigner is a crypto.Signer of a map type, the signer of its key
// "card": a nil mapSigner holds none, and its methods panic on the nil
// *ecdsa.PrivateKey they read.
type mapSigner map[string]*ecdsa.PrivateKey

func (m mapSigner) Public() crypto.PublicKey { return m["card"].Public() }

func (m mapSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return m["card"].Sign(rand, digest, opts)
}

// TestSignRefusesNilSigners: Sign refuses with ErrKey, where it panicked,
// a signer that is a nil of another kind than a pointer, whose methods
// panic: a nil func, a nil map, and a nil slice such as a nil
// ed25519.PrivateKey, whose Public reads past its end.
func TestSignRefusesNilSigners(t *testing.T) {
	consent := samples()["consent"]
	k := newKey(t)
	for name, key := range map[string]crypto.Signer{
		"funcSigner": funcSigner(func() *ecdsa.PrivateKey { return k }),
		"mapSigner":  mapSigner{"card": k},
	} {
		_, err := Sign(rand.Reader, key, consent)
		require.NoError(t, err, "a %s that is not nil", name)
	}
	for name, key := range map[string]crypto.Signer{
		"nil funcSigner":         funcSigner(nil),
		"nil mapSigner":          mapSigner(nil),
		"nil ed25519.PrivateKey": ed25519.PrivateKey(nil),
	} {
		var err error
		if assert.NotPanics(t, func() { _, err = Sign(rand.Reader, key, consent) }, name) {
			assert.ErrorIs(t, err, ErrKey, name)
		}
	}
}

// withScalar returns a copy of k with the private scalar d.
func withScalar(k *ecdsa.PrivateKey, d *big.Int) *ecdsa.PrivateKey {
	c := *k
	//lint:ignore SA1019 only the field builds a key with a scalar out of range
	c.D = d
	return &c
}

// TestNoRecord: a nil record, or a nil pointer to one, names no record
// type: every function refuses it with ErrType, where Marshal, Sign, Open
// and Verify panicked.
func TestNoRecord(t *testing.T) {
	key := newKey(t)
	msg, err := Sign(rand.Reader, key, samples()["consent"])
	require.NoError(t, err)
	payload, err := Marshal(samples()["consent"])
	require.NoError(t, err)
	for name, r := range map[string]Record{"nil": nil, "nil pointer": (*Consent)(nil)} {
		_, err := Marshal(r)
		assert.ErrorIs(t, err, ErrType, "Marshal %s", name)
		assert.ErrorIs(t, Unmarshal(payload, r), ErrType, "Unmarshal %s", name)
		_, err = Sign(rand.Reader, key, r)
		assert.ErrorIs(t, err, ErrType, "Sign %s", name)
		assert.ErrorIs(t, Open(msg, r), ErrType, "Open %s", name)
		assert.ErrorIs(t, Verify(msg, &key.PublicKey, r), ErrType, "Verify %s", name)
	}
}

func p384Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestVerifyRejects(t *testing.T) {
	key := newKey(t)
	other := newKey(t)
	consent := samples()["consent"]
	msg, err := Sign(rand.Reader, key, consent)
	require.NoError(t, err)

	t.Run("other key", func(t *testing.T) {
		assert.ErrorIs(t, Verify(msg, &other.PublicKey, new(Consent)), ErrSignature)
	})
	t.Run("key without a point", func(t *testing.T) {
		noPoint := &ecdsa.PublicKey{Curve: elliptic.P256()}
		assert.ErrorIs(t, Verify(msg, noPoint, new(Consent)), ErrKey)
		assert.ErrorIs(t, Verify(msg, nil, new(Consent)), ErrKey)
		assert.False(t, VerifyES256(noPoint, msg, make([]byte, 64)))
	})
	t.Run("key not on P-256", func(t *testing.T) {
		// The signer's point without its curve, on which crypto/ecdsa
		// panics, and a P-384 key: neither verifies an ES256 signature.
		content := sigStructure(t, msg)
		sig := msg[len(msg)-64:]
		require.True(t, VerifyES256(&key.PublicKey, content, sig))
		for name, pub := range map[string]*ecdsa.PublicKey{
			"no curve": {X: key.X, Y: key.Y},
			"P-384":    &p384Key(t).PublicKey,
		} {
			var ok bool
			require.NotPanics(t, func() { ok = VerifyES256(pub, content, sig) }, name)
			assert.False(t, ok, name)
			assert.ErrorIs(t, Verify(msg, pub, new(Consent)), ErrKey, name)
		}
	})
	t.Run("every byte flipped", func(t *testing.T) {
		// Of every record type, each byte with its lowest or its highest
		// bit flipped, the message cut short at each byte, and a byte
		// after it.
		for name, r := range samples() {
			msg, err := Sign(rand.Reader, key, r)
			require.NoError(t, err)
			require.NoError(t, Verify(msg, &key.PublicKey, fresh(r)), name)
			for i := range msg {
				for _, bit := range []byte{0x01, 0x80} {
					bad := bytes.Clone(msg)
					bad[i] ^= bit
					err := Verify(bad, &key.PublicKey, fresh(r))
					require.Error(t, err, "%s: byte %d, bit %#x", name, i, bit)
					assert.True(t, anyOf(err, ErrSignature, ErrMalformed, ErrType), "%s: byte %d: %v", name, i, err)
				}
				assert.ErrorIs(t, Verify(msg[:i], &key.PublicKey, fresh(r)), ErrMalformed, "%s: cut at byte %d", name, i)
			}
			for _, extra := range []byte{0x00, 0xa0, 0xff} {
				long := append(bytes.Clone(msg), extra)
				assert.ErrorIs(t, Verify(long, &key.PublicKey, fresh(r)), ErrMalformed, "%s: a byte %#x after it", name, extra)
				assert.ErrorIs(t, Open(long, fresh(r)), ErrMalformed, "%s: a byte %#x after it", name, extra)
			}
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(AuthProof)), ErrType)
		assert.ErrorIs(t, Open(msg, new(PaymentRequest)), ErrType)
	})
	t.Run("nil key", func(t *testing.T) {
		assert.ErrorIs(t, Verify(msg, nil, new(Consent)), ErrKey)
	})
	t.Run("P-384 key", func(t *testing.T) {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		assert.ErrorIs(t, Verify(msg, &k.PublicKey, new(Consent)), ErrKey)
		_, err = Sign(rand.Reader, k, consent)
		assert.ErrorIs(t, err, ErrKey)
	})
	t.Run("oversized", func(t *testing.T) {
		assert.ErrorIs(t, Verify(make([]byte, MaxMessage+1), &key.PublicKey, new(Consent)), ErrMalformed)
	})
	t.Run("envelope in another encoding", func(t *testing.T) {
		// The same record and signature in bytes of another Hash, each of
		// which decodes as COSE_Sign1: a length written long (the
		// payload's, the protected header's, the unprotected map's). All
		// are refused, and so is the untagged message.
		require.Equal(t, []byte{0xd2, 0x84, 0x58}, msg[:3])
		protLen := int(msg[3])
		prot, after := msg[4:4+protLen], msg[4+protLen:]
		require.Equal(t, []byte{0xa0, 0x58}, after[:2])
		variants := map[string][]byte{
			"payload length long":   append(append(bytes.Clone(msg[:4+protLen+1]), 0x59, 0x00), after[2:]...),
			"protected length long": append(append([]byte{0xd2, 0x84, 0x59, 0x00, byte(protLen)}, prot...), after...),
			"protected length in 8": append(append([]byte{0xd2, 0x84, 0x5b, 0, 0, 0, 0, 0, 0, 0, byte(protLen)}, prot...), after...),
			"unprotected map long":  append(append(bytes.Clone(msg[:4+protLen]), 0xb8, 0x00), after[1:]...),
		}
		for name, m := range variants {
			var env cose.Sign1Message
			require.NoError(t, env.UnmarshalCBOR(m), name)
			assert.NotEqual(t, Hash(msg), Hash(m), name)
			assert.ErrorIs(t, Verify(m, &key.PublicKey, new(Consent)), ErrMalformed, name)
			assert.ErrorIs(t, Open(m, new(Consent)), ErrMalformed, name)
		}
		assert.ErrorIs(t, Verify(msg[1:], &key.PublicKey, new(Consent)), ErrMalformed, "untagged")
	})
	t.Run("signature moved to another payload", func(t *testing.T) {
		var m cose.Sign1Message
		require.NoError(t, m.UnmarshalCBOR(msg))
		changed := *consent.(*Consent)
		changed.Amount++
		m.Payload, err = Marshal(&changed)
		require.NoError(t, err)
		forged, err := m.MarshalCBOR()
		require.NoError(t, err)
		assert.ErrorIs(t, Verify(forged, &key.PublicKey, new(Consent)), ErrSignature)
	})
}

func anyOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errorsIs(err, t) {
			return true
		}
	}
	return false
}

// resign builds a COSE_Sign1 with arbitrary headers and payload, signed
// by key.
func resign(t *testing.T, key *ecdsa.PrivateKey, hdr cose.Headers, payload []byte) []byte {
	t.Helper()
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	require.NoError(t, err)
	m := cose.Sign1Message{Headers: hdr, Payload: payload}
	require.NoError(t, m.Sign(rand.Reader, nil, signer))
	LowS(m.Signature)
	out, err := m.MarshalCBOR()
	require.NoError(t, err)
	return out
}

func TestVerifyRejectsValidlySignedOddities(t *testing.T) {
	key := newKey(t)
	payload, err := Marshal(samples()["consent"])
	require.NoError(t, err)
	ct := TypeConsent.ContentType()
	good := cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelContentType: ct}

	cases := map[string]struct {
		hdr     cose.Headers
		payload []byte
		want    error
	}{
		"control": {cose.Headers{Protected: good}, payload, nil},
		"extra protected header": {cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelContentType: ct, cose.HeaderLabelKeyID: []byte("k"),
		}}, payload, ErrMalformed},
		"unprotected header": {cose.Headers{Protected: good, Unprotected: cose.UnprotectedHeader{cose.HeaderLabelKeyID: []byte("k")}}, payload, ErrMalformed},
		"no content type":    {cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelKeyID: []byte("k")}}, payload, ErrMalformed},
		"numeric content type": {cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelContentType: uint64(60),
		}}, payload, ErrMalformed},
		"indefinite map":      {cose.Headers{Protected: good}, append([]byte{0xbf}, append(payload[1:], 0xff)...), ErrMalformed},
		"duplicate key":       {cose.Headers{Protected: good}, dupKey(t, payload), ErrMalformed},
		"unknown field":       {cose.Headers{Protected: good}, withField(t, payload, 99, "x"), ErrMalformed},
		"non-minimal integer": {cose.Headers{Protected: good}, nonMinimal(t), ErrMalformed},
		"no card header":      {cose.Headers{Protected: good}, stripHeader(t), ErrMalformed},
		"zero request ID":     {cose.Headers{Protected: good}, zeroRequestID(t), ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			msg := resign(t, key, tc.hdr, tc.payload)
			err := Verify(msg, &key.PublicKey, new(Consent))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// relabelled signs with ES256 but names another algorithm: go-cose puts
// alg in the protected header, and the signature verifies under the P-256
// key, so that only the header is wrong.
type relabelled struct {
	cose.Signer
	alg cose.Algorithm
}

func (s relabelled) Algorithm() cose.Algorithm { return s.alg }

// TestVerifyRejectsOtherAlgorithm: a record whose protected header names
// another algorithm than ES256 is refused, even when its signature is a
// valid ES256 signature by the key.
func TestVerifyRejectsOtherAlgorithm(t *testing.T) {
	key := newKey(t)
	payload, err := Marshal(samples()["consent"])
	require.NoError(t, err)
	es256, err := cose.NewSigner(cose.AlgorithmES256, key)
	require.NoError(t, err)
	for _, alg := range []cose.Algorithm{cose.AlgorithmES384, cose.AlgorithmES512, cose.AlgorithmEdDSA, cose.AlgorithmPS256} {
		t.Run(alg.String(), func(t *testing.T) {
			m := cose.Sign1Message{
				Headers: cose.Headers{Protected: cose.ProtectedHeader{
					cose.HeaderLabelAlgorithm: alg, cose.HeaderLabelContentType: TypeConsent.ContentType(),
				}},
				Payload: payload,
			}
			require.NoError(t, m.Sign(rand.Reader, nil, relabelled{es256, alg}))
			msg, err := m.MarshalCBOR()
			require.NoError(t, err)
			require.True(t, VerifyES256(&key.PublicKey, sigStructure(t, msg), m.Signature), "the signature itself is valid")
			assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Consent)), ErrSignature)
		})
	}
}

// sigStructure returns the bytes a COSE_Sign1 message's signature covers.
func sigStructure(t *testing.T, msg []byte) []byte {
	t.Helper()
	var m cose.Sign1Message
	require.NoError(t, m.UnmarshalCBOR(msg))
	b, err := cbor.Marshal([]any{"Signature1", cbor.RawMessage(m.Headers.RawProtected), []byte{}, m.Payload})
	require.NoError(t, err)
	return b
}

func dupKey(t *testing.T, payload []byte) []byte {
	// The payload is a map of 8 pairs (0xa8); append key 8 again.
	require.Equal(t, byte(0xa8), payload[0])
	out := append([]byte{0xa9}, payload[1:]...)
	return append(out, 0x08, 0x61, 'x')
}

func withField(t *testing.T, payload []byte, key int, val string) []byte {
	var m map[int]any
	require.NoError(t, cbor.Unmarshal(payload, &m))
	m[key] = val
	out, err := cbor.CoreDetEncOptions().EncMode()
	require.NoError(t, err)
	b, err := out.Marshal(m)
	require.NoError(t, err)
	return b
}

func nonMinimal(t *testing.T) []byte {
	c := *samples()["consent"].(*Consent)
	c.Amount = 5 // encoded minimally as 0x05; rewrite it as 0x18 0x05
	b, err := Marshal(&c)
	require.NoError(t, err)
	i := bytes.Index(b, []byte{0x06, 0x05})
	require.GreaterOrEqual(t, i, 0)
	return append(append(bytes.Clone(b[:i+1]), 0x18, 0x05), b[i+2:]...)
}

func stripHeader(t *testing.T) []byte {
	c := *samples()["consent"].(*Consent)
	c.CardHeader = CardHeader{}
	b, err := Marshal(&c)
	require.NoError(t, err)
	return b
}

// zeroRequestID encodes the consent sample with an all-zero request ID,
// bypassing Marshal's validation.
func zeroRequestID(t *testing.T) []byte {
	c := *samples()["consent"].(*Consent)
	c.RequestID = id(0)
	b, err := encMode.Marshal(&c)
	require.NoError(t, err)
	return b
}

func TestSignRequiresCardHeader(t *testing.T) {
	key := newKey(t)
	c := *samples()["consent"].(*Consent)
	c.CardHeader = CardHeader{}
	_, err := Sign(rand.Reader, key, &c)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "card ID", fe.Field)

	c.CardID = shopperCard
	_, err = Sign(rand.Reader, key, &c)
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "counter", fe.Field)
}

func TestValidate(t *testing.T) {
	type mutate func(Record)
	cases := []struct {
		name  string
		base  string
		m     mutate
		field string
	}{
		{"short nonce", "auth-proof", func(r Record) { r.(*AuthProof).Nonce = n32(1)[:31] }, "nonce"},
		{"bad role", "auth-proof", func(r Record) { r.(*AuthProof).Role = 3 }, "role"},
		{"short EID", "auth-proof", func(r Record) { r.(*AuthProof).EID = nil }, "EID"},
		{"lower-case currency", "payment-request", func(r Record) { r.(*PaymentRequest).Currency = "eur" }, "currency"},
		{"currency ending past Z", "payment-request", func(r Record) { r.(*PaymentRequest).Currency = "EU[" }, "currency"},
		{"currency with a character past Z", "consent", func(r Record) { r.(*Consent).Currency = "E[R" }, "currency"},
		{"zero amount no legs", "payment-request", func(r Record) { r.(*PaymentRequest).Amount = 0 }, "amount"},
		{"amount over 2^63-1", "payment-request", func(r Record) { r.(*PaymentRequest).Amount = 1 << 63 }, "amount"},
		{"zero quantity", "payment-request", func(r Record) { r.(*PaymentRequest).Items[0].Quantity = 0 }, "quantity"},
		{"payer not ICCID", "payment-request", func(r Record) { r.(*PaymentRequest).PayerCardID = "12ab" }, "payer card ID"},
		{"merchant too long", "payment-request", func(r Record) { r.(*PaymentRequest).MerchantID = strings.Repeat("m", MaxText+1) }, "merchant ID"},
		{"merchant control char", "payment-request", func(r Record) { r.(*PaymentRequest).MerchantID = "a\nb" }, "merchant ID"},
		{"merchant ending with a space", "payment-request", func(r Record) { r.(*PaymentRequest).MerchantID = "grocer-1 " }, "merchant ID"},
		{"merchant starting with a space", "consent", func(r Record) { r.(*Consent).MerchantID = " grocer-1" }, "merchant ID"},
		{"zero leg", "payment-request", func(r Record) { r.(*PaymentRequest).Legs = []Leg{{Asset: "TICKET", Amount: 0}} }, "leg amount"},
		{"too many legs", "payment-request", func(r Record) {
			r.(*PaymentRequest).Legs = slices.Repeat([]Leg{{Asset: "TICKET", Amount: 1}}, MaxLegs+1)
		}, "legs"},
		{"too many items", "payment-request", func(r Record) {
			r.(*PaymentRequest).Items = make([]Item, MaxItems+1)
		}, "items"},
		{"short request hash", "consent", func(r Record) { r.(*Consent).RequestHash = id(1) }, "request hash"},
		{"zero refund", "refund-request", func(r Record) { r.(*RefundRequest).Amount = 0 }, "amount"},
		{"receipt kind", "receipt", func(r Record) { r.(*Receipt).Kind = 9 }, "kind"},
		{"payment receipt with refund ID", "receipt", func(r Record) { r.(*Receipt).RefundID = id(3) }, "refund ID"},
		{"receipt without transfers", "receipt", func(r Record) { r.(*Receipt).TransferIDs = nil }, "transfer IDs"},
		{"receipt short transfer", "receipt", func(r Record) { r.(*Receipt).TransferIDs = [][]byte{{1}} }, "transfer ID"},
		{"receipt zero time", "receipt", func(r Record) { r.(*Receipt).Time = 0 }, "time"},
		{"receipt zero quantity", "receipt", func(r Record) { r.(*Receipt).Lines[1].Quantity = 0 }, "quantity"},
		{"receipt quantity over 2^63-1", "receipt", func(r Record) { r.(*Receipt).Lines[0].Quantity = 1 << 63 }, "quantity"},
		{"zero request ID", "payment-request", func(r Record) { r.(*PaymentRequest).RequestID = id(0) }, "request ID"},
		{"zero session ID", "payment-request", func(r Record) { r.(*PaymentRequest).SessionID = id(0) }, "session ID"},
		{"consent for the zero request ID", "consent", func(r Record) { r.(*Consent).RequestID = id(0) }, "request ID"},
		{"zero refund ID", "refund-request", func(r Record) { r.(*RefundRequest).RefundID = id(0) }, "refund ID"},
		{"refund of the zero request ID", "refund-request", func(r Record) { r.(*RefundRequest).RequestID = id(0) }, "request ID"},
		{"receipt zero request ID", "receipt", func(r Record) { r.(*Receipt).RequestID = id(0) }, "request ID"},
		{"receipt zero transfer ID", "receipt", func(r Record) { r.(*Receipt).TransferIDs[1] = id(0) }, "transfer ID"},
		{"refund receipt zero amount", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash, rc.Amount = ReceiptRefund, nil, id(0xE4), n32(0xE5), 0
		}, "amount"},
		{"refund receipt zero refund ID", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash = ReceiptRefund, nil, id(0), n32(0xE5)
		}, "refund ID"},
		{"refund receipt with lines", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash = ReceiptRefund, nil, id(0xE4), n32(0xE5)
		}, "lines"},
		{"payment receipt short consent hash", "receipt", func(r Record) { r.(*Receipt).ConsentHash = id(1) }, "consent hash"},
		{"refund receipt with consent hash", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.Kind, rc.RefundID, rc.RefundHash = ReceiptRefund, id(0xE4), n32(0xE5)
		}, "consent hash"},
		{"receipt too many lines", "receipt", func(r Record) {
			r.(*Receipt).Lines = slices.Repeat(r.(*Receipt).Lines[:1], MaxItems+1)
		}, "lines"},
		{"refund receipt with legs", "receipt", func(r Record) {
			rc := r.(*Receipt)
			rc.Kind, rc.ConsentHash, rc.RefundID, rc.RefundHash, rc.Lines = ReceiptRefund, nil, id(0xE4), n32(0xE5), nil
			rc.Legs = []Leg{{Asset: "TICKET", Amount: 1}}
		}, "legs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := samples()[tc.base]
			tc.m(r)
			_, err := Marshal(r)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestCheckName pins the name rule of PROTOCOL.md §3, "a symbol in these
// rules" read as Unicode category So.
func TestCheckName(t *testing.T) {
	protocoldoc.Says(t, "## 3. Signed records", "a symbol in these rules is a character of Unicode "+
		"category So (other symbol), not a modifier symbol (Sk) such as a skin-tone modifier")
	const invisible = "must not contain format characters or other default-ignorable code points"
	for _, ok := range []string{"Comté 200 g", "Äpfel", "牛奶 1 L", "Crème brûlée", "Tea \u2615", "A", strings.Repeat("é", MaxText/2), "Family \U0001F46A", "김치", "Family \U0001F468\U0001F469",
		// Joiners and presentation selectors that shape their neighbours.
		"Family \U0001F468\u200D\U0001F469",          // an emoji ZWJ sequence
		"Coder \U0001F9D1\U0001F3FD\u200D\U0001F4BB", // after a skin-tone modifier
		"Flag \U0001F3F3\uFE0F\u200D\U0001F308",      // after variation selector-16
		"Tea \u2615\uFE0F", "Tea \u2615\uFE0E",       // emoji and text presentation
		"Room 1\uFE0F\u20E3", // a keycap
		"\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", // Persian, with a non-joiner
		"\u0915\u094D\u200D\u0937",                         // Devanagari half form
		"\u0915\u094D\u200C\u0937",                         // Devanagari, no conjunct
		// Edges: punctuation, the first and last skin-tone modifiers,
		// every keycap base.
		"Milk, 1.5 L (half-fat)!",
		"\u0915\u200C\u093F",                                               // a non-joiner before a Devanagari vowel sign
		"\U0001F9D1\U0001F3FB\u200D\U0001F4BB",                             // after EMOJI MODIFIER FITZPATRICK TYPE-1-2
		"\U0001F9D1\U0001F3FF\u200D\U0001F4BB",                             // after EMOJI MODIFIER FITZPATRICK TYPE-6
		"0\uFE0F\u20E3", "9\uFE0F\u20E3", "#\uFE0F\u20E3", "*\uFE0F\u20E3", // keycaps
	} {
		assert.NoError(t, CheckName("name", ok), "%q", ok)
	}
	for _, tc := range []struct{ s, reason string }{
		{"", "must be 1 to 64 bytes"},
		{strings.Repeat("é", MaxText/2) + "e", "must be 1 to 64 bytes"},
		{"Com\xffté", "must be valid UTF-8"},
		{"a\nb", "must not contain control characters"},
		{"a\x7fb", "must not contain control characters"},
		{"a\u0085b", "must not contain control characters"},
		{"Milk \u202E0.05", "must not contain bidirectional formatting characters or a byte-order mark"},
		{"a\u2066b", "must not contain bidirectional formatting characters or a byte-order mark"},
		{"\ufeffMilk", "must not contain bidirectional formatting characters or a byte-order mark"},
		{"a\ue000b", "must contain only assigned, public characters and spaces"},
		{"a\u2028b", "must contain only assigned, public characters and spaces"},
		{"a\u2029b", "must contain only assigned, public characters and spaces"},
		{"a\U000E0000b", "must contain only assigned, public characters and spaces"},
		{"a\u2065b", "must contain only assigned, public characters and spaces"},
		{"a\u200Eb", "must not contain bidirectional formatting characters or a byte-order mark"},
		{"a\u061Cb", "must not contain bidirectional formatting characters or a byte-order mark"},
		// Format characters (Unicode category Cf) and the other
		// default-ignorable code points, which show as nothing or change
		// only how their neighbours show.
		{"Mi\u200Blk", invisible},               // ZERO WIDTH SPACE
		{"Mi\u200Clk", invisible},               // ZERO WIDTH NON-JOINER
		{"Mi\u200Dlk", invisible},               // ZERO WIDTH JOINER
		{"\u200D\U0001F469", invisible},         // a joiner at the start
		{"Tea \u2615\u200D", invisible},         // a joiner at the end
		{"x^\u200D\u2615", invisible},           // a joiner after a modifier letter
		{"\u0915\u200D\u0061", invisible},       // a joiner between two scripts
		{"\u0645\u200C\u200C\u062E", invisible}, // non-joiners repeated
		{"\u6F22\u200C\u5B57", invisible},       // a non-joiner between Han
		{"Tea \u2615\uFE0F\uFE0F", invisible},   // variation selector-16 repeated
		{"Milk\uFE0F", invisible},               // variation selector-16 after a letter
		{"Room 1\uFE0F", invisible},             // variation selector-16 without a keycap
		{"Room 1\uFE0E\u20E3", invisible},       // a keycap in text presentation
		{"Mi\u2060lk", invisible},               // WORD JOINER
		{"a\u2061b", invisible},                 // FUNCTION APPLICATION
		{"Mi\u00ADlk", invisible},               // SOFT HYPHEN
		{"Milk\U000E0041", invisible},           // TAG LATIN CAPITAL LETTER A
		{"\U000E0001Milk", invisible},           // LANGUAGE TAG
		{"Milk\U000E007F", invisible},           // CANCEL TAG
		{"a\u180Eb", invisible},                 // MONGOLIAN VOWEL SEPARATOR
		{"a\uFFF9b", invisible},                 // INTERLINEAR ANNOTATION ANCHOR
		{"\u06001", invisible},                  // ARABIC NUMBER SIGN
		{"a\u034Fb", invisible},                 // COMBINING GRAPHEME JOINER
		{"\u115F김치", invisible},                 // HANGUL CHOSEONG FILLER
		{"a\u3164b", invisible},                 // HANGUL FILLER
		{"a\uFFA0b", invisible},                 // HALFWIDTH HANGUL FILLER
		{"\u1780\u17B4", invisible},             // KHMER VOWEL INHERENT AQ
		{"\u845B\U000E0100", invisible},         // VARIATION SELECTOR-17
		{"\u1820\u180B", invisible},             // MONGOLIAN FREE VARIATION SELECTOR ONE
		{" Milk", "must not start or end with white space"},
		{"Milk\u00a0", "must not start or end with white space"},
		// Edges: the last C0 and C1 controls; joiners and selectors
		// beside a modifier symbol (Sk), which is no symbol of the rule.
		{"a\x1fb", "must not contain control characters"},
		{"a\u009fb", "must not contain control characters"},
		{"a\u200C\u0915", invisible},              // a Latin letter before the non-joiner
		{"\U0001F468\u200C\U0001F469", invisible}, // a non-joiner between emoji
		{"\u2615\u200D\U0001F3FB", invisible},     // a joiner before a skin-tone modifier
		{"\U0001F3FB\uFE0F", invisible},           // variation selector-16 after a skin-tone modifier
		{"Room 1\u20E3\uFE0F", invisible},         // variation selector-16 after the keycap
		// Which rule is named: the length, then UTF-8, then the first
		// character of s that breaks a rule, then white space at an end.
		{"a\ue000\x01", "must contain only assigned, public characters and spaces"},
		{"a\x01\ue000", "must not contain control characters"},
		{"a\u200B\u202E", invisible},
		{" \u202E", "must not contain bidirectional formatting characters or a byte-order mark"},
		{strings.Repeat("\x01", MaxText+1), "must be 1 to 64 bytes"},
		{"\x01\xff", "must be valid UTF-8"},
	} {
		requireFieldError(t, CheckName("item name", tc.s), FieldError{Field: "item name", Reason: tc.reason}, "%q", tc.s)
	}
	// A receipt carries such a name; an identifier stays ASCII.
	r := samples()["receipt"].(*Receipt)
	r.Lines[0].Name = "Comté 200 g"
	msg, err := Marshal(r)
	require.NoError(t, err)
	var back Receipt
	require.NoError(t, Unmarshal(msg, &back))
	assert.Equal(t, "Comté 200 g", back.Lines[0].Name)
	r.Lines[0].SKU = "comté"
	requireRefused(t, r, FieldError{Field: "SKU", Reason: "must be printable ASCII"})
	requireFieldError(t, CheckText("SKU", "comté"), FieldError{Field: "SKU", Reason: "must be printable ASCII"})
}

func TestHashBindsWholeMessage(t *testing.T) {
	key := newKey(t)
	a, err := Sign(rand.Reader, key, samples()["payment-request"])
	require.NoError(t, err)
	b, err := Sign(rand.Reader, key, samples()["payment-request"])
	require.NoError(t, err)
	// ECDSA signatures are randomised: the same record signed twice gives
	// two messages with two hashes, so a consent binds one exact message.
	assert.NotEqual(t, Hash(a), Hash(b))
	assert.Equal(t, Hash(a), Hash(bytes.Clone(a)))
}

// TestCardIDsFollowTheICCIDRule: every card ID a record carries, the card
// header's and a payer's, is an ICCID as PROTOCOL.md §3 and §4.3 define it.
// One with a wrong Luhn check digit or without the 89 prefix is refused by
// Sign, and by Verify and Open when it comes signed; a payer card ID by
// Marshal and Unmarshal too (they do not check the card header).
func TestCardIDsFollowTheICCIDRule(t *testing.T) {
	const (
		digitsReason = "must be 19 or 20 decimal digits"
		prefixReason = "must start with the industry identifier 89"
		luhnReason   = "must end with the Luhn check digit of the others"
	)
	bad := []struct{ name, id, reason string }{
		{"wrong check digit", "8986001234567890121", luhnReason},
		{"wrong check digit, 20 digits", "89014103211118510721", luhnReason},
		{"prefix 79 with a right check digit", "7986001234567890121", prefixReason},
		{"prefix 98 with a right check digit", "9886001234567890121", prefixReason},
		{"20 digits, prefix 01, right check digit", "01986001234567890127", prefixReason},
		{"18 digits", "898600123456789012", digitsReason},
		{"a letter", "898600123456789012A", digitsReason},
	}
	fields := []struct {
		name, base, field string
		set               func(Record, string)
	}{
		{"auth proof card", "auth-proof", "card ID", func(r Record, s string) { r.(*AuthProof).CardID = s }},
		{"payment request card", "payment-request", "card ID", func(r Record, s string) { r.(*PaymentRequest).CardID = s }},
		{"payment request payer", "payment-request", "payer card ID", func(r Record, s string) { r.(*PaymentRequest).PayerCardID = s }},
		{"consent card", "consent", "card ID", func(r Record, s string) { r.(*Consent).CardID = s }},
		{"refund request card", "refund-request", "card ID", func(r Record, s string) { r.(*RefundRequest).CardID = s }},
		{"receipt payer", "receipt", "payer card ID", func(r Record, s string) { r.(*Receipt).PayerCardID = s }},
	}
	key := newKey(t)
	for _, f := range fields {
		for _, b := range bad {
			t.Run(f.name+"/"+b.name, func(t *testing.T) {
				want := FieldError{Field: f.field, Reason: b.reason}
				is := func(err error, what string) {
					t.Helper()
					var fe *FieldError
					if assert.ErrorAs(t, err, &fe, what) {
						assert.Equal(t, want, *fe, what)
					}
					assert.ErrorIs(t, err, ErrMalformed, what)
				}
				r := samples()[f.base]
				f.set(r, b.id)

				_, err := Sign(rand.Reader, key, r)
				is(err, "Sign")

				payload, err := encMode.Marshal(r)
				require.NoError(t, err)
				msg := signRaw(t, key, ProtectedHeader(r.Type()), payload)
				require.True(t, VerifyES256(&key.PublicKey, sigStructure(t, msg), msg[len(msg)-64:]), "the signature itself is valid")
				is(Verify(msg, &key.PublicKey, fresh(r)), "Verify")
				is(Open(msg, fresh(r)), "Open")

				if f.field == "payer card ID" {
					_, err := Marshal(r)
					is(err, "Marshal")
					is(Unmarshal(payload, fresh(r)), "Unmarshal")
				}
			})
		}
	}
}

func TestCheckCardID(t *testing.T) {
	for _, ok := range []string{shopperCard, sellerCard, "89014103211118510720", "8944500102198304826"} {
		assert.NoError(t, CheckCardID("card ID", ok), ok)
	}
	for _, tc := range []struct{ s, reason string }{
		{"", "must be 19 or 20 decimal digits"},
		{"890141032111185107208", "must be 19 or 20 decimal digits"},
		{"8901410321111851072 ", "must be 19 or 20 decimal digits"},
		{"99014103211118510729", "must start with the industry identifier 89"},
		{"7986001234567890121", "must start with the industry identifier 89"},
		{"8886001234567890122", "must start with the industry identifier 89"},
		{"8086001234567890129", "must start with the industry identifier 89"},
		{"89014103211118510721", "must end with the Luhn check digit of the others"},
		{"8986001234567890128", "must end with the Luhn check digit of the others"},
		{"8986009876543210982", "must end with the Luhn check digit of the others"},
	} {
		var fe *FieldError
		require.ErrorAs(t, CheckCardID("payer card ID", tc.s), &fe, "%q", tc.s)
		assert.Equal(t, FieldError{Field: "payer card ID", Reason: tc.reason}, *fe, "%q", tc.s)
		assert.ErrorIs(t, fe, ErrMalformed)
	}
	for body, want := range map[string]byte{"898600123456789012": '0', "898600987654321098": '9', "8901410321111851072": '0', "894450010219830482": '6'} {
		assert.Equal(t, want, LuhnDigit(body), body)
	}
}

// highS returns msg with its signature's s replaced by n − s: the other
// valid ECDSA signature of the same digest, under the same r.
func highS(t *testing.T, msg []byte) []byte {
	t.Helper()
	n := elliptic.P256().Params().N
	out := bytes.Clone(msg)
	sig := out[len(out)-64:]
	s := new(big.Int).SetBytes(sig[32:])
	new(big.Int).Sub(n, s).FillBytes(sig[32:])
	return out
}

// requireLowS fails unless the signature of msg has s ≤ n/2.
func requireLowS(t *testing.T, msg []byte) {
	t.Helper()
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	s := new(big.Int).SetBytes(msg[len(msg)-32:])
	require.LessOrEqual(t, s.Cmp(half), 0, "s above n/2")
}

func TestSignatureHasOneForm(t *testing.T) {
	key := newKey(t)
	consent := samples()["consent"]
	for range 32 { // about half of the random signatures had s > n/2
		msg, err := Sign(rand.Reader, key, consent)
		require.NoError(t, err)
		requireLowS(t, msg)
		require.NoError(t, Verify(msg, &key.PublicKey, new(Consent)))

		twin := highS(t, msg)
		require.True(t, VerifyES256(&key.PublicKey, sigStructure(t, twin), twin[len(twin)-64:]), "n − s is a valid ECDSA signature")
		assert.ErrorIs(t, Verify(twin, &key.PublicKey, new(Consent)), ErrSignature)
		assert.NotEqual(t, Hash(msg), Hash(twin))
	}
	var sig [64]byte
	sig[0], sig[63] = 1, 1
	LowS(sig[:])
	assert.Equal(t, byte(1), sig[63], "a low s is kept")
	n := elliptic.P256().Params().N
	new(big.Int).Sub(n, big.NewInt(1)).FillBytes(sig[32:])
	LowS(sig[:])
	assert.Equal(t, big.NewInt(1), new(big.Int).SetBytes(sig[32:]), "n − 1 becomes 1")
	// n is odd: s = (n−1)/2 is the highest low s, and n − s = s + 1 the
	// lowest high one.
	half := new(big.Int).Rsh(n, 1)
	half.FillBytes(sig[32:])
	assert.True(t, lowS(sig[:]), "s = (n−1)/2 is low")
	LowS(sig[:])
	assert.Equal(t, half, new(big.Int).SetBytes(sig[32:]), "(n−1)/2 is kept")
	new(big.Int).Add(half, big.NewInt(1)).FillBytes(sig[32:])
	assert.False(t, lowS(sig[:]), "s = (n+1)/2 is high")
	LowS(sig[:])
	assert.Equal(t, half, new(big.Int).SetBytes(sig[32:]), "(n+1)/2 becomes (n−1)/2")
	short := []byte{1, 2, 3}
	LowS(short)
	assert.Equal(t, []byte{1, 2, 3}, short, "a slice of another length is left alone")
}

// TestDecodeIntoUsedRecord: Verify, Open and Unmarshal decode a message
// into a record that holds another one (a variable used again) as into a
// zero record: the result is the message's record alone, a field that the
// payload omits (zero) not keeping the value it held, and the record held
// before is left as it was. Before, such a valid message was refused as
// not deterministic CBOR.
func TestDecodeIntoUsedRecord(t *testing.T) {
	key := newKey(t)
	consent := samples()["consent"].(*Consent)
	consent.Amount, consent.Nonce = 0, n32(0xEE) // amount omitted from the payload
	refund := samples()["receipt"].(*Receipt)
	refund.Kind, refund.ConsentHash, refund.RefundID, refund.RefundHash = ReceiptRefund, nil, id(0x0C), n32(0xE5)
	refund.Lines, refund.TransferIDs = nil, [][]byte{id(0x0D)}
	for name, want := range map[string]Record{"consent": consent, "receipt": refund} {
		msg, err := Sign(rand.Reader, key, want)
		require.NoError(t, err)
		payload, err := Marshal(want)
		require.NoError(t, err)
		decoders := map[string]func(Record) error{
			"Verify":    func(r Record) error { return Verify(msg, &key.PublicKey, r) },
			"Open":      func(r Record) error { return Open(msg, r) },
			"Unmarshal": func(r Record) error { return Unmarshal(payload, r) },
		}
		for how, decode := range decoders {
			held := samples()[name]
			before := reflect.New(reflect.TypeOf(held).Elem()) // shares held's slices
			before.Elem().Set(reflect.ValueOf(held).Elem())
			require.NoError(t, decode(held), "%s %s into a used record", how, name)
			assert.Equal(t, want, held, "%s %s", how, name)
			assert.Equal(t, samples()[name], before.Interface(), "%s %s: the record held before", how, name)
		}
	}
}

// TestVerifySignatureLength: an envelope whose signature is not 64 bytes
// (r || s of 32 bytes each) is refused as ErrSignature for its length,
// not as a signature whose s is above n/2, whatever its last 32 bytes.
func TestVerifySignatureLength(t *testing.T) {
	key := newKey(t)
	msg, err := Sign(rand.Reader, key, samples()["consent"])
	require.NoError(t, err)
	var m cose.Sign1Message
	require.NoError(t, m.UnmarshalCBOR(msg))
	for _, n := range []int{1, 32, 63, 65, 96} {
		sig := make([]byte, n)
		copy(sig, m.Signature)
		m2 := m
		m2.Signature = sig
		bad, err := m2.MarshalCBOR()
		require.NoError(t, err)
		err = Verify(bad, &key.PublicKey, new(Consent))
		require.ErrorIs(t, err, ErrSignature, "%d bytes", n)
		assert.Contains(t, err.Error(), "64 bytes", "%d bytes", n)
		assert.NotContains(t, err.Error(), "low-S", "%d bytes", n)
	}
}

func TestTypeNames(t *testing.T) {
	for typ, want := range map[Type]string{TypeAuthProof: "auth-proof", TypePaymentRequest: "payment-request",
		TypeConsent: "consent", TypeRefundRequest: "refund-request", TypeReceipt: "receipt", Type(0): "record-type(0)"} {
		assert.Equal(t, want, typ.String())
	}
}
