package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"testing"

	"github.com/c2sp/wycheproof"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWycheproofES256 runs the Wycheproof ECDSA P-256 SHA-256 vectors in
// the IEEE P1363 encoding (r || s, 64 bytes), the encoding of COSE ES256,
// through record.VerifyES256, whose ECDSA check is the one behind
// record.Verify and so behind every record this package verifies (Verify
// refuses besides a signature not in its low-S form). A "valid" vector must
// verify and an "invalid" one must not. The file has no "acceptable"
// vector; were one added, the check must reject it (the strict choice: a
// signature that only some implementations accept is not one we rely on).
func TestWycheproofES256(t *testing.T) {
	data, err := fs.ReadFile(wycheproof.TestVectors, "ecdsa_secp256r1_sha256_p1363_test.json")
	require.NoError(t, err)
	var file struct {
		Algorithm  string
		TestGroups []struct {
			PublicKeyDer string
			Sha          string
			Tests        []struct {
				TcID    int
				Comment string
				Msg     string
				Sig     string
				Result  string
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &file))
	require.Equal(t, "ECDSA", file.Algorithm)
	counts := map[string]int{}
	for _, g := range file.TestGroups {
		require.Equal(t, "SHA-256", g.Sha)
		der, err := hex.DecodeString(g.PublicKeyDer)
		require.NoError(t, err)
		pub, err := x509.ParsePKIXPublicKey(der)
		require.NoError(t, err)
		key, ok := pub.(*ecdsa.PublicKey)
		require.True(t, ok)
		for _, tc := range g.Tests {
			msg, err := hex.DecodeString(tc.Msg)
			require.NoError(t, err)
			sig, err := hex.DecodeString(tc.Sig)
			require.NoError(t, err)
			got := record.VerifyES256(key, msg, sig)
			counts[tc.Result]++
			name := fmt.Sprintf("tc%d %s", tc.TcID, tc.Comment)
			switch tc.Result {
			case "valid":
				assert.True(t, got, name)
			case "invalid", "acceptable":
				assert.False(t, got, name)
			default:
				t.Fatalf("%s: unknown result %q", name, tc.Result)
			}
		}
	}
	assert.Equal(t, map[string]int{"valid": 173, "invalid": 89}, counts, "every vector of the file ran")
}
