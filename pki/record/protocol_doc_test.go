package record

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// protocolField is a key of a record of PROTOCOL.md §3 as the document
// or a Go type gives it.
type protocolField struct {
	cbor    string // tstr, uint, bstr or array
	omitted bool   // left out of the encoding when zero
}

// recordFields returns the keys of the CBOR encoding of t, the card header
// of an embedded CardHeader included.
func recordFields(t reflect.Type) map[string]protocolField {
	fields := map[string]protocolField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k, v := range recordFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		parts := strings.Split(f.Tag.Get("cbor"), ",")
		var typ string
		switch f.Type.Kind() {
		case reflect.String:
			typ = "tstr"
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			typ = "uint"
		case reflect.Slice:
			typ = "array"
			if f.Type.Elem().Kind() == reflect.Uint8 {
				typ = "bstr"
			}
		default:
			typ = f.Type.String()
		}
		fields[parts[0]] = protocolField{cbor: typ, omitted: slices.Contains(parts, "omitempty")}
	}
	return fields
}

// TestProtocolRecordTables keeps the tables of the records of PROTOCOL.md
// §3.1 to §3.6 and the types of this package in step: the same keys, each
// of the same CBOR type, omitted when zero where the document says so.
func TestProtocolRecordTables(t *testing.T) {
	for _, tt := range []struct {
		heading string
		typ     reflect.Type
	}{
		{"### 3.1 Card header", reflect.TypeFor[CardHeader]()},
		{"### 3.2 Auth proof", reflect.TypeFor[AuthProof]()},
		{"### 3.3 Payment request", reflect.TypeFor[PaymentRequest]()},
		{"### 3.4 Consent", reflect.TypeFor[Consent]()},
		{"### 3.5 Refund request", reflect.TypeFor[RefundRequest]()},
		{"### 3.6 Receipt", reflect.TypeFor[Receipt]()},
	} {
		code := recordFields(tt.typ)
		doc := map[string]protocolField{}
		for _, r := range protocoldoc.Table(t, tt.heading) {
			require.Len(t, r, 4, "%s: row %q", tt.heading, r)
			if r[0] == "1, 2" { // the card header, checked under §3.1
				for _, k := range []string{"1", "2"} {
					doc[k] = code[k]
				}
				continue
			}
			typ, _, _ := strings.Cut(r[2], " ")
			if typ == "" || strings.HasPrefix(r[2], "array of") {
				typ = "array"
			}
			// Omitted when zero or empty; a receipt's, left out of the kind
			// of receipt that has no such field; the card header's, left
			// out of what the phone sends the card, which fills it in (§2.6).
			omitted := strings.Contains(r[3], "omitted") || strings.Contains(r[3], "receipts only") ||
				strings.Contains(r[3], "filled in")
			doc[r[0]] = protocolField{cbor: typ, omitted: omitted}
		}
		assert.Equal(t, code, doc, "PROTOCOL.md %s: key: {CBOR type, omitted when zero}", tt.heading)
	}
}

// TestProtocolContentTypes keeps the table of the record types of
// PROTOCOL.md §3 and the content types of this package in step.
func TestProtocolContentTypes(t *testing.T) {
	types := map[string]Type{
		"auth proof": TypeAuthProof, "payment request": TypePaymentRequest,
		"consent": TypeConsent, "refund request": TypeRefundRequest, "receipt": TypeReceipt,
	}
	rows := protocoldoc.TableOf(t, "## 3. Signed records", "type")
	for _, r := range rows {
		require.Len(t, r, 3, "row %q", r)
		typ, ok := types[r[0]]
		if assert.True(t, ok, "PROTOCOL.md §3 names a record type %q", r[0]) {
			assert.Equal(t, strings.Trim(r[1], "`"), typ.ContentType(), r[0])
		}
	}
	assert.Len(t, rows, len(types))
	assert.Empty(t, Type(len(types)+1).ContentType(), "no other record type")
}

// noteGap parts a line of a listing of PROTOCOL.md, octets in
// hexadecimal, from its note, two spaces or more away.
var noteGap = regexp.MustCompile(`\s{2,}`)

// consentListing returns the lines of the listing of the consent sample
// of PROTOCOL.md §3.7, each trimmed, and the section's text after it.
func consentListing(t *testing.T) (lines []string, after string) {
	t.Helper()
	s := protocoldoc.Section(t, "### 3.7 Test vectors")
	_, listing, ok := strings.Cut(s, "```\n")
	require.True(t, ok, "PROTOCOL.md §3.7: a listing")
	listing, after, ok = strings.Cut(listing, "```")
	require.True(t, ok, "PROTOCOL.md §3.7: the listing's end")
	for l := range strings.SplitSeq(strings.TrimSpace(listing), "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return lines, after
}

// TestProtocolTestVectors keeps the consent of PROTOCOL.md §3.7 and the
// code in step: its listing, … standing for any octets, is the payload of
// testdata/consent.cbor.hex, of the length the document gives, and the
// envelope around it is that of a consent signed by Sign.
func TestProtocolTestVectors(t *testing.T) {
	lines, after := consentListing(t)
	var p strings.Builder
	for _, l := range lines {
		octets := noteGap.Split(l, 2)[0]
		for part := range strings.FieldsSeq(octets) {
			p.WriteString(strings.ReplaceAll(part, "…", "(?:[0-9a-f]{2})*"))
		}
	}
	file, err := os.ReadFile(filepath.Join("testdata", "consent.cbor.hex"))
	require.NoError(t, err)
	payload := strings.TrimSpace(string(file))
	assert.Regexp(t, "^"+p.String()+"$", payload, "PROTOCOL.md §3.7 listing and testdata/consent.cbor.hex")
	m := regexp.MustCompile(`^\s*\(([0-9]+) bytes\)`).FindStringSubmatch(after)
	require.NotNil(t, m, "PROTOCOL.md §3.7 gives the length of the payload after the listing")
	assert.Equal(t, m[1], strconv.Itoa(len(payload)/2), "PROTOCOL.md §3.7 length of the payload")

	// The envelope, in one code span: octets, the content type in double
	// quotes, <payload> and <r||s>.
	m = regexp.MustCompile("`(d2 84 [^`]*)`").FindStringSubmatch(after)
	require.NotNil(t, m, "PROTOCOL.md §3.7 gives the envelope")
	var env strings.Builder
	for part := range strings.FieldsSeq(m[1]) {
		switch {
		case part == "<payload>":
			env.WriteString(payload)
		case part == "<r||s>":
			env.WriteString("[0-9a-f]{128}")
		case strings.HasPrefix(part, `"`):
			env.WriteString(hex.EncodeToString([]byte(strings.Trim(part, `"`))))
		default:
			require.Regexp(t, "^[0-9a-f]{2}$", part, "PROTOCOL.md §3.7 envelope")
			env.WriteString(part)
		}
	}
	msg, err := Sign(rand.Reader, newKey(t), samples()["consent"])
	require.NoError(t, err)
	assert.Regexp(t, "^"+env.String()+"$", hex.EncodeToString(msg), "PROTOCOL.md §3.7 envelope and Sign")
}

// TestProtocolRecordLimits keeps the limits of records that PROTOCOL.md §3
// gives and the constants of this package in step.
func TestProtocolRecordLimits(t *testing.T) {
	protocoldoc.Says(t, "## 3. Signed records",
		"a message over "+strconv.Itoa(MaxMessage)+" bytes (a receipt's x5chain aside, §3.6)",
		"is over "+strconv.Itoa(maxHeaderBytes)+" bytes (a receipt's over "+strconv.Itoa(maxHeaderBytes)+" plus the "+strconv.Itoa(MaxChain)+" that its x5chain may add",
		"an unprotected header over "+strconv.Itoa(maxHeaderBytes)+" bytes",
		"SKUs, asset names and merchant IDs are 1 to "+strconv.Itoa(MaxText)+" bytes",
		"are 1 to "+strconv.Itoa(MaxText)+" bytes of UTF-8",
		"| at most "+strconv.Itoa(MaxItems)+", each quantity 1 to 2^63−1;",
		"at most "+strconv.Itoa(MaxLegs)+", each amount more than zero;",
	)
}

// TestProtocolRecordSizes keeps the sizes of the fields of records that
// PROTOCOL.md §3 gives and the constants of this package in step: the
// common field rules, each "bstr N" of the record tables by what its field
// holds (an ID, a nonce, a hash or an EID), the card IDs' lengths, the
// transfer IDs of a receipt and the longest receipt.
func TestProtocolRecordSizes(t *testing.T) {
	itoa := strconv.Itoa
	assert.EqualValues(t, uint64(1)<<63-1, uint64(MaxAmount), "2^63−1")
	protocoldoc.Says(t, "## 3. Signed records",
		"IDs are "+itoa(IDSize)+"-byte byte strings (never all zero), nonces and hashes "+itoa(NonceSize)+"-byte byte strings",
		"EIDs "+itoa(EIDSize)+"-byte byte strings; amounts are unsigned minor units at most 2^63−1",
		"card IDs are ICCIDs ("+itoa(minCardID)+" or "+itoa(maxCardID)+" decimal digits",
		"| the ledger transfers that moved the money and assets (1 to "+itoa(maxTransfer)+") |",
		"so that a receipt is at most "+itoa(MaxMessage+MaxChain)+" bytes",
	)
	assert.Equal(t, NonceSize, HashSize, "§3 gives nonces and hashes one size")
	sizes := map[string]int{"ID": IDSize, "nonce": NonceSize, "hash": HashSize, "EID": EIDSize}
	bstr := regexp.MustCompile(`^bstr (\d+)$`)
	n := 0
	for _, heading := range []string{"### 3.2 Auth proof", "### 3.3 Payment request", "### 3.4 Consent",
		"### 3.5 Refund request", "### 3.6 Receipt"} {
		for _, r := range protocoldoc.Table(t, heading) {
			require.Len(t, r, 4, "%s: row %q", heading, r)
			m := bstr.FindStringSubmatch(r[2])
			if m == nil {
				continue
			}
			n++
			words := strings.Fields(r[1])
			size, ok := sizes[words[len(words)-1]]
			if assert.True(t, ok, "%s: key %s %q is no ID, nonce, hash or EID", heading, r[0], r[1]) {
				assert.Equal(t, itoa(size), m[1], "%s: key %s %q", heading, r[0], r[1])
			}
		}
	}
	assert.Equal(t, 15, n, "the byte strings of the record tables")
}
