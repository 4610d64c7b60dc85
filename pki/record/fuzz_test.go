package record

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
)

// FuzzUnmarshal checks that a payload either fails to decode or is exactly
// the deterministic encoding of a valid record, and that decoding into a
// record that holds another one (a sample of its type) gives the same.
func FuzzUnmarshal(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, used := range samples() {
			r := fresh(used)
			err := Unmarshal(data, r)
			require.Equal(t, err == nil, Unmarshal(data, used) == nil, "into a used record: %v", err)
			if err != nil {
				continue
			}
			require.Equal(t, r, used)
			again, err := Marshal(r)
			require.NoError(t, err)
			require.Equal(t, data, again)
		}
	})
}

// FuzzVerify feeds arbitrary envelopes to Open and Verify: no panic,
// nothing verifies under a key that never signed, what verifies opens to
// the same record, and a message that opens is the one encoding of its
// parts (RFC 8949 deterministic CBOR of tag 18 over the protected header
// of the record's type, an empty map, the record's deterministic payload
// and the signature; a receipt's with the x5chain it carries), so that no
// other byte string of a record opens. DecodeReceipt and
// SignedReceipt.Verify accept and refuse every message as Verify does,
// and decode, which reads the messages that Sign and SignReceipt write in
// place, accepts and refuses every message as go-cose's path does, with
// the same parts (requireSameDecode).
func FuzzVerify(f *testing.F) {
	key := newKey(f)
	for _, r := range samples() {
		msg, err := Sign(rand.Reader, key, r)
		require.NoError(f, err)
		f.Add(msg)
	}
	for _, chain := range [][][]byte{certs(1, 40), certs(3, 30)} {
		msg, err := SignReceipt(rand.Reader, key, samples()["receipt"].(*Receipt), chain)
		require.NoError(f, err)
		f.Add(msg)
	}
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	stranger := newKey(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		// A receipt decoded once is accepted or refused as Verify
		// accepts or refuses its message (DecodeReceipt).
		requireSameRefusal(t, msg, &key.PublicKey)
		requireSameRefusal(t, msg, &stranger.PublicKey)
		requireSameDecode(t, msg)
		for _, used := range samples() {
			r := fresh(used)
			openErr := Open(msg, r)
			require.Error(t, Verify(msg, &stranger.PublicKey, fresh(used)))
			verified := fresh(used)
			if err := Verify(msg, &key.PublicKey, verified); err == nil {
				require.NoError(t, openErr, "verifies but does not open")
				require.Equal(t, r, verified)
			}
			if openErr != nil {
				continue
			}
			m, err := decode(msg, r.Type())
			require.NoError(t, err)
			payload, err := Marshal(r)
			require.NoError(t, err)
			again, err := encMode.Marshal(cbor.Tag{Number: 18, Content: []any{
				protectedHeader(r.Type(), m.chain), map[int]int{}, payload, m.signature,
			}})
			require.NoError(t, err)
			require.Equal(t, again, msg, "opens but is not the one encoding of its parts")
		}
	})
}

func addGoldenSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.cbor.hex"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		payload, err := hex.DecodeString(strings.TrimSpace(string(b)))
		require.NoError(f, err)
		f.Add(payload)
	}
}
