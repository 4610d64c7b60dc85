package pki

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestChainKeyLayout: a chain is cached under SHA-256 over the role it was
// verified for, one octet (01 card, 02 platform), and each certificate
// after its length in four octets, big-endian (PROTOCOL.md §4.5), so that
// no chain is served for another role, nor a certificate split in two for
// the whole one.
func TestChainKeyLayout(t *testing.T) {
	chain := [][]byte{{0x30, 0x01, 0xaa}, make([]byte, 0x0102)}
	want := sha256.Sum256(append(append([]byte{0x01, 0, 0, 0, 3, 0x30, 0x01, 0xaa}, 0, 0, 0x01, 0x02), chain[1]...))
	assert.Equal(t, want, chainKey(roleCard, chain), "card")
	platform := sha256.Sum256(append(append([]byte{0x02, 0, 0, 0, 3, 0x30, 0x01, 0xaa}, 0, 0, 0x01, 0x02), chain[1]...))
	assert.Equal(t, platform, chainKey(rolePlatform, chain), "platform")

	split := [][]byte{{0x30}, {0x01, 0xaa}, chain[1]}
	assert.NotEqual(t, chainKey(roleCard, chain), chainKey(roleCard, split), "a certificate split in two")
}
