package record

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPayloadOneEncoding: a payload that is not exactly the deterministic
// encoding of a valid record (PROTOCOL.md §3) is malformed, whether it is
// decoded alone (Unmarshal) or inside a message whose signature verifies
// (Verify, Open): each variant below of the consent sample of §3.7 says
// the same record, or one close to it, in other bytes.
func TestPayloadOneEncoding(t *testing.T) {
	b, err := os.ReadFile("testdata/consent.cbor.hex")
	require.NoError(t, err)
	p, err := hex.DecodeString(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	// at returns the offset of entry, which the sample holds once.
	at := func(entry ...byte) int {
		i := bytes.Index(p, entry)
		require.GreaterOrEqual(t, i, 0, "% x", entry)
		require.Equal(t, -1, bytes.Index(p[i+1:], entry), "% x", entry)
		return i
	}
	amount := []byte{0x06, 0x19, 0x04, 0xd2}      // 6: 1234
	counter := []byte{0x02, 0x08}                 // 2: 8
	currency := []byte{0x07, 0x63, 'E', 'U', 'R'} // 7: "EUR"
	merchant := at(0x08, 0x68)                    // 8: "grocer-1", the last entry
	requestID := at(0x03, 0x50)                   // 3: h'0101…01'
	// swap returns the sample with old, which it holds once, replaced.
	swap := func(old []byte, with ...byte) []byte {
		i := at(old...)
		return bytes.Join([][]byte{p[:i], with, p[i+len(old):]}, nil)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	cases := map[string]struct {
		payload []byte
		err     string
	}{
		"tag on a value":                {swap(amount, 0x06, 0xc1, 0x19, 0x04, 0xd2), "cbor: CBOR tag isn't allowed"},
		"tag on the record":             {cat([]byte{0xd8, 0x18}, p), "cbor: CBOR tag isn't allowed"},
		"float for an integer":          {swap(amount, 0x06, 0xfa, 0x44, 0x9a, 0x40, 0x00), "cbor: cannot unmarshal primitives into Go struct field record.Consent.6 of type uint64"},
		"half float for the counter":    {swap(counter, 0x02, 0xf9, 0x48, 0x00), "cbor: cannot unmarshal primitives into Go struct field record.Consent.2 of type uint64"},
		"keys out of order":             {cat(p[:at(currency...)], p[merchant:], currency), "not deterministic CBOR"},
		"zero value not omitted":        {swap(amount, 0x06, 0x00), "not deterministic CBOR"},
		"text string key":               {swap(amount, 0x61, '6', 0x19, 0x04, 0xd2), "cbor: found unknown field at map element index 5"},
		"negative key":                  {cat([]byte{0xa9}, p[1:], []byte{0x20, 0x00}), "cbor: found unknown field at map element index 8"},
		"text length not shortest":      {swap(currency, 0x07, 0x78, 0x03, 'E', 'U', 'R'), "not deterministic CBOR"},
		"map length not shortest":       {cat([]byte{0xb8, 0x08}, p[1:]), "not deterministic CBOR"},
		"indefinite-length bytes":       {cat(p[:requestID+1], []byte{0x5f}, p[requestID+1:requestID+18], []byte{0xff}, p[requestID+18:]), "cbor: indefinite-length byte string isn't allowed"},
		"null for a text string":        {swap(currency, 0x07, 0xf6), "not deterministic CBOR"},
		"undefined for an integer":      {swap(amount, 0x06, 0xf7), "not deterministic CBOR"},
		"text string that is not UTF-8": {swap(currency, 0x07, 0x63, 'E', 0xff, 'R'), "cbor: invalid UTF-8 string"},
		"byte string for a text string": {swap(currency, 0x07, 0x43, 'E', 'U', 'R'), "cbor: cannot unmarshal byte string into Go struct field record.Consent.7 of type string"},
		"a byte after the record":       {cat(p, []byte{0x00}), "cbor: 1 bytes of extraneous data starting at index 131"},
	}
	key := newKey(t)
	require.NoError(t, Unmarshal(p, new(Consent)), "the sample itself")
	require.NoError(t, Verify(signRaw(t, key, ProtectedHeader(TypeConsent), p), &key.PublicKey, new(Consent)), "the sample itself")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := "record: malformed: " + tc.err
			err := Unmarshal(tc.payload, new(Consent))
			assert.ErrorIs(t, err, ErrMalformed)
			assert.EqualError(t, err, want)
			msg := signRaw(t, key, ProtectedHeader(TypeConsent), tc.payload)
			err = Verify(msg, &key.PublicKey, new(Consent))
			assert.ErrorIs(t, err, ErrMalformed)
			assert.EqualError(t, err, want)
			assert.EqualError(t, Open(msg, new(Consent)), want)
		})
	}
}
