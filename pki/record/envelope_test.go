package record

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnvelopeLayout freezes the bytes around the payload that PROTOCOL.md
// §3.7 shows for the consent sample.
func TestEnvelopeLayout(t *testing.T) {
	msg, err := Sign(rand.Reader, newKey(t), samples()["consent"])
	require.NoError(t, err)
	payload, err := os.ReadFile("testdata/consent.cbor.hex")
	require.NoError(t, err)
	p := strings.TrimSpace(string(payload))
	ct := hex.EncodeToString([]byte(TypeConsent.ContentType()))
	want := "d2" + "84" + "5824" + "a2" + "0126" + "03781e" + ct + "a0" + "5883" + p + "5840"
	got := hex.EncodeToString(msg)
	require.Len(t, got, len(want)+128)
	assert.Equal(t, want, got[:len(want)])
}
