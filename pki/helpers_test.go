package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var x509OIDKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// t0 is the test clock's start: every certificate of a test hierarchy is
// issued at t0.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	testICCID  = "89014103211118510720"
	testICCID2 = "8944500102198304826"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// hierarchy is a root, a card-issuing CA and one card, issued at t0.
type hierarchy struct {
	root    *CA
	ca      *CA
	cardKey *ecdsa.PrivateKey
	card    []byte
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func newHierarchy(t testing.TB) *hierarchy {
	t.Helper()
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0)})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	h := &hierarchy{root: root, ca: ca, cardKey: newKey(t)}
	h.card, err = ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	return h
}

// chain is the card's certificate followed by the card-issuing CA's.
func (h *hierarchy) chain() [][]byte { return append([][]byte{h.card}, h.ca.Chain()...) }
