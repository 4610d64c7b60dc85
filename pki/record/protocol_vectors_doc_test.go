package record

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolConsentVectorValues pins the values that PROTOCOL.md §3.7
// gives the consent sample in its prose, "(card `8986001234567890120`,
// counter 8, request ID `01…01`, request hash `b2…b2`, nonce `c3…c3`, 1234
// EUR to `grocer-1`) encodes as", an octet repeated standing for the whole
// ID, hash or nonce: the consent of those values encodes as
// testdata/consent.cbor.hex, whose … of the listing TestProtocolTestVectors
// reads as any octets.
func TestProtocolConsentVectorValues(t *testing.T) {
	s := protocoldoc.Prose(t, "### 3.7 Test vectors")
	m := regexp.MustCompile("The consent sample \\(card `([0-9]+)`, counter ([0-9]+), " +
		"request ID `([0-9a-f]{2})…([0-9a-f]{2})`, request hash `([0-9a-f]{2})…([0-9a-f]{2})`, " +
		"nonce `([0-9a-f]{2})…([0-9a-f]{2})`, ([0-9]+) ([A-Z]{3}) to `([^`]+)`\\) encodes as").FindStringSubmatch(s)
	require.NotNil(t, m, "PROTOCOL.md §3.7: the values of the consent sample")
	// repeated returns n octets of the one octet that both ends of a
	// range of the document give.
	repeated := func(first, last string, n int) []byte {
		t.Helper()
		require.Equal(t, first, last, "an octet repeated")
		b, err := hex.DecodeString(first)
		require.NoError(t, err)
		return bytes.Repeat(b, n)
	}
	counter, err := strconv.ParseUint(m[2], 10, 64)
	require.NoError(t, err)
	amount, err := strconv.ParseUint(m[9], 10, 64)
	require.NoError(t, err)
	c := &Consent{
		CardHeader:  CardHeader{CardID: m[1], Counter: counter},
		RequestID:   repeated(m[3], m[4], IDSize),
		RequestHash: repeated(m[5], m[6], HashSize),
		Nonce:       repeated(m[7], m[8], NonceSize),
		Amount:      amount, Currency: m[10], MerchantID: m[11],
	}
	p, err := Marshal(c)
	require.NoError(t, err)
	file, err := os.ReadFile(filepath.Join("testdata", "consent.cbor.hex"))
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(file)), hex.EncodeToString(p), "PROTOCOL.md §3.7: the consent of the values given and testdata/consent.cbor.hex")
}

// TestProtocolConsentVectorNotes pins the notes of the listing of
// PROTOCOL.md §3.7: "map, 8 pairs" for the map's head; on every other line
// the key before the colon, and its value as the octets of the line hold
// it: a text string in double quotes, a number, the request ID of 16
// octets, or "(32 bytes)" for a byte string of 32 octets whose content the
// listing elides.
func TestProtocolConsentVectorNotes(t *testing.T) {
	lines, _ := consentListing(t)
	note := regexp.MustCompile(`^([0-9]+): (.*)$`)
	require.Len(t, lines, 9, "the map's head and its 8 pairs")
	for i, l := range lines {
		parts := noteGap.Split(l, 2)
		require.Len(t, parts, 2, "line %q: octets and a note", l)
		octets, text := strings.ReplaceAll(parts[0], " ", ""), parts[1]
		if i == 0 {
			pairs := regexp.MustCompile(`^map, ([0-9]+) pairs$`).FindStringSubmatch(text)
			require.NotNil(t, pairs, "line %q", l)
			n, err := strconv.Atoi(pairs[1])
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString([]byte{0xa0 | byte(n)}), octets, "line %q: the head of a map of %d pairs", l, n)
			continue
		}
		m := note.FindStringSubmatch(text)
		require.NotNil(t, m, "line %q: a note of a key", l)
		key, err := strconv.ParseUint(m[1], 10, 8)
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString([]byte{byte(key)}), octets[:2], "line %q: the key", l)
		value := octets[2:]
		if strings.Contains(value, "…") {
			// A byte string whose content is elided: its head gives the
			// size of the note.
			size := regexp.MustCompile(`\(([0-9]+) bytes\)$`).FindStringSubmatch(m[2])
			require.NotNil(t, size, "line %q: the size of an elided byte string", l)
			n, err := strconv.ParseUint(size[1], 10, 8)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(value, "58"+hex.EncodeToString([]byte{byte(n)})), "line %q: a byte string of %d octets", l, n)
			continue
		}
		b, err := hex.DecodeString(value)
		require.NoError(t, err, "line %q", l)
		var v any
		require.NoError(t, cbor.Unmarshal(b, &v), "line %q: one CBOR value after the key", l)
		switch v := v.(type) {
		case string:
			assert.Equal(t, strconv.Quote(v), m[2], "line %q", l)
		case uint64:
			assert.Equal(t, strconv.FormatUint(v, 10), m[2], "line %q", l)
		case []byte:
			assert.Equal(t, "request ID", m[2], "line %q", l)
			assert.Len(t, v, IDSize, "line %q: the request ID", l)
		default:
			t.Errorf("line %q: a value of %T", l, v)
		}
	}
}
