package record

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/cborhead"
)

// certs returns n stand-in certificates of size bytes each, every one of
// other bytes: the package does not parse them.
func certs(n, size int) [][]byte {
	chain := make([][]byte, n)
	for i := range chain {
		chain[i] = bytes.Repeat([]byte{byte(0x30 + i)}, size)
	}
	return chain
}

// cat joins byte strings.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// bstrOf returns b as a CBOR byte string with its shortest head.
func bstrOf(b []byte) []byte { return append(cborhead.Append(nil, cborhead.Bytes, len(b)), b...) }

// receiptHeader returns the protected header of a receipt without x5chain
// but with a map head for n entries: A? 01 26 03 <content type>.
func receiptHeader(n int) []byte {
	return append([]byte{0xa0 | byte(n)}, ProtectedHeader(TypeReceipt)[1:]...)
}

// TestSignReceiptChainLayout: SignReceipt puts the chain in the protected
// header as x5chain (label 33), one certificate as a byte string, several
// as an array, after the algorithm and the content type; the message is
// ChainSize bytes longer than Sign's, verifies under the key, opens to the
// receipt, and ReceiptChain gives the chain back. A receipt signed by
// Sign carries none.
func TestSignReceiptChainLayout(t *testing.T) {
	key := newKey(t)
	r := samples()["receipt"].(*Receipt)
	payload, err := Marshal(r)
	require.NoError(t, err)
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			chain := certs(n, 300)
			msg, err := SignReceipt(rand.Reader, key, r, chain)
			require.NoError(t, err)

			entry := []byte{0x18, 0x21}
			if n > 1 {
				entry = append(entry, 0x80|byte(n))
			}
			for _, c := range chain {
				entry = append(entry, bstrOf(c)...)
			}
			prot := cat(receiptHeader(3), entry)
			want := cat([]byte{0xd2, 0x84}, bstrOf(prot), []byte{0xa0}, bstrOf(payload), []byte{0x58, 0x40})
			require.Len(t, msg, len(want)+64)
			assert.Equal(t, want, msg[:len(want)])
			assert.Equal(t, MessageSize(TypeReceipt, payload)+ChainSize(chain), len(msg))

			var got Receipt
			require.NoError(t, Verify(msg, &key.PublicKey, &got))
			assert.Equal(t, r, &got)
			var opened Receipt
			require.NoError(t, Open(msg, &opened))
			assert.Equal(t, r, &opened)
			carried, err := ReceiptChain(msg)
			require.NoError(t, err)
			assert.Equal(t, chain, carried)
			assert.ErrorIs(t, Verify(msg, &newKey(t).PublicKey, new(Receipt)), ErrSignature)
		})
	}
	plain, err := Sign(rand.Reader, key, r)
	require.NoError(t, err)
	carried, err := ReceiptChain(plain)
	require.NoError(t, err)
	assert.Nil(t, carried)
}

// TestReceiptChainIsSigned: the signature covers the chain: a byte of a
// certificate flipped, or the chain replaced by another, leaves a message
// that no longer verifies (ErrSignature), though it still opens.
func TestReceiptChainIsSigned(t *testing.T) {
	key := newKey(t)
	r := samples()["receipt"].(*Receipt)
	chain := certs(2, 300)
	msg, err := SignReceipt(rand.Reader, key, r, chain)
	require.NoError(t, err)

	flipped := bytes.Clone(msg)
	i := bytes.Index(flipped, chain[1])
	require.Positive(t, i)
	flipped[i+100] ^= 0x01
	assert.ErrorIs(t, Verify(flipped, &key.PublicKey, new(Receipt)), ErrSignature)
	require.NoError(t, Open(flipped, new(Receipt)))

	other := certs(2, 300)
	other[0][0] = 0x99
	swapped := bytes.Replace(bytes.Clone(msg), chain[0], other[0], 1)
	assert.ErrorIs(t, Verify(swapped, &key.PublicKey, new(Receipt)), ErrSignature)
	carried, err := ReceiptChain(swapped)
	require.NoError(t, err)
	assert.Equal(t, other, carried)
}

// TestReceiptChainRefused: SignReceipt refuses a chain that CheckChain
// refuses (none, an empty certificate, more than MaxChain bytes), and
// Verify, Open and ReceiptChain refuse, though validly signed, an x5chain
// in another record than a receipt, or in the unprotected header, or not
// in its one encoding (one certificate in an array, before the content
// type, a longer head), or not of byte strings (ErrMalformed).
func TestReceiptChainRefused(t *testing.T) {
	key := newKey(t)
	r := samples()["receipt"].(*Receipt)
	for name, chain := range map[string][][]byte{
		"nil":               nil,
		"none":              {},
		"empty certificate": {{0x30}, {}},
		"too long":          certs(1, MaxChain),
	} {
		_, err := SignReceipt(rand.Reader, key, r, chain)
		assert.ErrorIs(t, err, ErrMalformed, name)
		assert.ErrorIs(t, CheckChain(chain), ErrMalformed, name)
	}

	payload, err := Marshal(r)
	require.NoError(t, err)
	cert := bytes.Repeat([]byte{0x30}, 40)
	entry := cat([]byte{0x18, 0x21}, bstrOf(cert))
	require.NoError(t, Verify(signRaw(t, key, cat(receiptHeader(3), entry), payload), &key.PublicKey, new(Receipt)), "the one encoding")

	ctText := ProtectedHeader(TypeReceipt)[4:]
	cases := map[string][]byte{
		"array of one":           cat(receiptHeader(3), []byte{0x18, 0x21, 0x81}, bstrOf(cert)),
		"array of a text string": cat(receiptHeader(3), []byte{0x18, 0x21, 0x82}, bstrOf(cert), []byte{0x61, 0x41}),
		"a text string":          cat(receiptHeader(3), []byte{0x18, 0x21, 0x61, 0x41}),
		"an empty certificate":   cat(receiptHeader(3), []byte{0x18, 0x21, 0x40}),
		"an empty array":         cat(receiptHeader(3), []byte{0x18, 0x21, 0x80}),
		"before the content":     cat([]byte{0xa3, 0x01, 0x26}, entry, []byte{0x03}, ctText),
		"label in two octets":    cat(receiptHeader(3), []byte{0x19, 0x00, 0x21}, bstrOf(cert)),
		"certificate head long":  cat(receiptHeader(3), []byte{0x18, 0x21, 0x59, 0x00, byte(len(cert))}, cert),
	}
	for name, prot := range cases {
		t.Run(name, func(t *testing.T) {
			msg := signRaw(t, key, prot, payload)
			assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Receipt)), ErrMalformed)
			assert.ErrorIs(t, Open(msg, new(Receipt)), ErrMalformed)
			_, err := ReceiptChain(msg)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}

	t.Run("in a consent", func(t *testing.T) {
		consent, err := Marshal(samples()["consent"])
		require.NoError(t, err)
		ct := TypeConsent.ContentType()
		prot := cat([]byte{0xa3, 0x01, 0x26, 0x03}, cborhead.Append(nil, cborhead.Text, len(ct)), []byte(ct), entry)
		msg := signRaw(t, key, prot, consent)
		assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Consent)), ErrMalformed)
		assert.ErrorIs(t, Open(msg, new(Consent)), ErrMalformed)
	})
	t.Run("unprotected", func(t *testing.T) {
		msg, err := Sign(rand.Reader, key, r)
		require.NoError(t, err)
		at := 2 + len(bstrOf(ProtectedHeader(TypeReceipt)))
		require.Equal(t, byte(0xa0), msg[at])
		msg = cat(msg[:at], []byte{0xa1}, entry, msg[at+1:])
		assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Receipt)), ErrMalformed)
		_, err = ReceiptChain(msg)
		assert.ErrorIs(t, err, ErrMalformed)
	})
}

// TestLargestReceiptWithChain: the largest receipt, a payload that makes
// a message of MaxMessage bytes exactly, with a chain that adds MaxChain
// bytes exactly, is signed and verifies, MaxMessage + MaxChain bytes
// long; a chain one byte longer, or a payload one byte longer under a
// chain one byte shorter or under none, is refused (ErrMalformed): the
// chain has room of its own, which a payload does not take.
func TestLargestReceiptWithChain(t *testing.T) {
	key := newKey(t)
	r := samples()["receipt"].(*Receipt)
	r.Lines = nil
	line := func(i, name int) Line {
		return Line{SKU: fmt.Sprintf("%03d", i) + strings.Repeat("s", MaxText-3), Name: strings.Repeat("n", name), Quantity: 1, UnitPrice: 1}
	}
	for i := 0; MessageSize(TypeReceipt, mustMarshal(t, r)) < MaxMessage-556; i++ {
		r.Lines = append(r.Lines, line(i, MaxText))
	}
	// Four more lines, whose names (of 24 bytes or more, each byte one
	// more of the message) grow until the message is MaxMessage bytes.
	for i := range 4 {
		r.Lines = append(r.Lines, line(900+i, 24))
	}
	for i := len(r.Lines) - 4; i < len(r.Lines); i++ {
		for len(r.Lines[i].Name) < MaxText && MessageSize(TypeReceipt, mustMarshal(t, r)) < MaxMessage {
			r.Lines[i].Name += "n"
		}
	}
	i := slices.IndexFunc(r.Lines, func(l Line) bool { return len(l.Name) < MaxText })
	require.GreaterOrEqual(t, i, 0, "a name that can grow")
	last := &r.Lines[i]
	payload := mustMarshal(t, r)
	require.Equal(t, MaxMessage, MessageSize(TypeReceipt, payload))

	chain := chainOfSize(t, MaxChain)
	msg, err := SignReceipt(rand.Reader, key, r, chain)
	require.NoError(t, err)
	assert.Len(t, msg, MaxMessage+MaxChain)
	require.NoError(t, Verify(msg, &key.PublicKey, new(Receipt)))

	_, err = SignReceipt(rand.Reader, key, r, chainOfSize(t, MaxChain+1))
	assert.ErrorIs(t, err, ErrMalformed)

	// Signed raw, as no signer here makes it: the payload over MaxMessage
	// is refused though the whole message is within the limit.
	last.Name += "n"
	longer := mustMarshal(t, r)
	shorter := chainOfSize(t, MaxChain-1)
	prot := protectedHeader(TypeReceipt, shorter)
	raw := signRaw(t, key, prot, longer)
	require.Len(t, raw, MaxMessage+MaxChain)
	assert.ErrorIs(t, Verify(raw, &key.PublicKey, new(Receipt)), ErrMalformed)
	chainless := signRaw(t, key, ProtectedHeader(TypeReceipt), longer)
	require.Len(t, chainless, MaxMessage+1)
	assert.ErrorIs(t, Verify(chainless, &key.PublicKey, new(Receipt)), ErrMalformed, "no chain: MaxMessage")
	assert.ErrorIs(t, Open(chainless, new(Receipt)), ErrMalformed)
	_, err = SignReceipt(rand.Reader, key, r, shorter)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, Verify(append(msg, 0), &key.PublicKey, new(Receipt)), ErrMalformed, "one byte over the limit")
}

// chainOfSize returns a chain of two certificates that adds n bytes to a
// receipt's message.
func chainOfSize(t *testing.T, n int) [][]byte {
	t.Helper()
	chain := certs(2, 600)
	chain[1] = bytes.Repeat([]byte{0x31}, n-ChainSize(chain)+len(chain[1]))
	for ChainSize(chain) > n { // a longer head took a byte or two
		chain[1] = chain[1][1:]
	}
	require.Equal(t, n, ChainSize(chain))
	return chain
}

func mustMarshal(t *testing.T, r Record) []byte {
	t.Helper()
	b, err := Marshal(r)
	require.NoError(t, err)
	return b
}

// unknownType is a record of no type of the protocol.
type unknownType struct{ Receipt }

func (*unknownType) Type() Type { return 0 }

// TestSignRefusesUnknownType: a record of a type that names no content
// type is not signed, with a chain or without (ErrType).
func TestSignRefusesUnknownType(t *testing.T) {
	r := &unknownType{Receipt: *samples()["receipt"].(*Receipt)}
	msg, err := Sign(rand.Reader, newKey(t), r)
	assert.ErrorIs(t, err, ErrType)
	assert.Nil(t, msg)
	msg, err = sign(rand.Reader, newKey(t), r, certs(1, 40))
	assert.ErrorIs(t, err, ErrType)
	assert.Nil(t, msg)
}
