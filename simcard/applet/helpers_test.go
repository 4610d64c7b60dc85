package applet_test

import (
	"crypto/ecdsa"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/require"
)

const testICCID = "89014103211118510720"

var (
	issuerOnce sync.Once
	issuerCA   *pki.CA
	issuerErr  error
)

// testIssuer returns one demo card-issuing CA for the whole test binary.
func testIssuer(t testing.TB) *pki.CA {
	t.Helper()
	issuerOnce.Do(func() { _, issuerCA, issuerErr = simcardtest.NewCA() })
	require.NoError(t, issuerErr)
	return issuerCA
}

// newCard returns a personalised, selected card with PIN 123456 and PUK
// 12345678.
func newCard(t testing.TB, opts simcardtest.Options) *simcardtest.Virtual {
	t.Helper()
	if opts.ICCID == "" {
		opts.ICCID = testICCID
	}
	v, err := simcardtest.NewCard(testIssuer(t), opts)
	require.NoError(t, err)
	return v
}

// newBlank returns a blank card in the personalisation state, selected.
func newBlank(t testing.TB) *applet.Applet {
	t.Helper()
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	_, sw := tx(t, a, selectAID)
	require.Equal(t, uint16(0x9000), sw)
	return a
}

// keyedBlank returns a blank card, selected, holding the ICCID testICCID
// and a key of its own making (GENERATE KEY), and that key.
func keyedBlank(t testing.TB) (*applet.Applet, *ecdsa.PublicKey) {
	t.Helper()
	a := newBlank(t)
	_, sw := tx(t, a, apdu("00DA0101", []byte(testICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	tmpl, sw := tx(t, a, "0047800000")
	require.Equal(t, uint16(0x9000), sw)
	pub, err := simcard.ParsePublicKeyTemplate(tmpl)
	require.NoError(t, err)
	return a, pub
}

// certifiedBlank returns a keyedBlank card that also holds the
// certificate testIssuer issued for its key and ICCID, and that
// certificate.
func certifiedBlank(t testing.TB) (*applet.Applet, []byte) {
	t.Helper()
	a, pub := keyedBlank(t)
	cert, err := testIssuer(t).IssueCard(pub, testICCID, pki.IssueOptions{})
	require.NoError(t, err)
	_, sw := tx(t, a, putExt("0102", cert))
	require.Equal(t, uint16(0x9000), sw)
	return a, cert
}

// powerOn returns a card on a new applet over what s stores, selected: the
// card after a power cycle.
func powerOn(t testing.TB, s applet.Storage) *simcard.Card {
	t.Helper()
	a, err := applet.New(s, applet.Options{})
	require.NoError(t, err)
	c := simcard.New(a)
	_, err = c.Select()
	require.NoError(t, err)
	return c
}

// selectedOn returns a new applet, selected, over a Memory holding state:
// the card after a power cycle with that state stored.
func selectedOn(t testing.TB, state []byte) *applet.Applet {
	t.Helper()
	m := new(applet.Memory)
	require.NoError(t, m.Store(state))
	a, err := applet.New(m, applet.Options{})
	require.NoError(t, err)
	_, sw := tx(t, a, selectAID)
	require.Equal(t, uint16(0x9000), sw)
	return a
}

const selectAID = "00A4040007F0434153494D0100"

// unhex decodes hexadecimal with optional spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// tx sends a command given in hexadecimal and returns the response data and
// status word.
func tx(t testing.TB, a *applet.Applet, cmd string) ([]byte, uint16) {
	t.Helper()
	return txb(t, a, unhex(t, cmd))
}

func txb(t testing.TB, a *applet.Applet, cmd []byte) ([]byte, uint16) {
	t.Helper()
	r, err := a.Transmit(cmd)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(r), 2)
	n := len(r) - 2
	return r[:n], uint16(r[n])<<8 | uint16(r[n+1])
}

// hexOf encodes data for building commands.
func hexOf(b []byte) string { return hex.EncodeToString(b) }

func lc(b []byte) string { return hex.EncodeToString([]byte{byte(len(b))}) }
