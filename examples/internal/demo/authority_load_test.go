package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestLoadAuthorityOneCertificateEach: a CA's certificate file of the
// hierarchy, and the root certificate that a phone reads, holding more
// than one certificate are refused, naming the file and the count.
func TestLoadAuthorityOneCertificateEach(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := LoadAuthority(ctx, dir)
	require.NoError(t, err)
	root := RootPath(dir)
	b, err := os.ReadFile(root)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(root, append(b, b...), 0o644))

	_, err = LoadAuthority(ctx, dir)
	assert.EqualError(t, err, "demo: "+rootCert+": want one certificate, not 2")
	_, err = LoadRoot(dir)
	assert.EqualError(t, err, "demo: "+root+": want one certificate, found 2")
}

// TestLoadAuthorityBesideOtherFiles: a data folder without a hierarchy
// whose cards folder holds only what no setup writes there as a card (a
// hidden .NAME.card, such as a state file of vcard -state, and a folder
// NAME.card) holds no earlier setup: LoadAuthority makes a hierarchy.
func TestLoadAuthorityBesideOtherFiles(t *testing.T) {
	dir := t.TempDir()
	cards := filepath.Dir(CardPath(dir, ""))
	require.NoError(t, os.MkdirAll(CardPath(dir, "folder"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cards, ".mine.card"), []byte("state"), 0o600))
	a, err := LoadAuthority(context.Background(), dir)
	require.NoError(t, err)
	root, err := LoadRoot(dir)
	require.NoError(t, err)
	assert.Equal(t, a.Root.DER(), root)
}

// TestCardVerifierCRLsLastADay: the cloud's verifier holds CRLs of both
// CAs valid for a day from when they were issued, by the clock given:
// a card chain verifies until then and is ErrCRL after, until
// RefreshCRLs issues new ones; RefreshCRLs without a clock issues them
// by the wall clock.
func TestCardVerifierCRLsLastADay(t *testing.T) {
	a, err := LoadAuthority(context.Background(), t.TempDir())
	require.NoError(t, err)
	card, err := simcardtest.NewCard(a.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	at := time.Now()
	clock := at
	now := func() time.Time { return clock }
	v, err := a.CardVerifier(now)
	require.NoError(t, err)

	clock = at.Add(23 * time.Hour)
	_, err = v.VerifyCard(card.Enrolment.Chain)
	require.NoError(t, err, "a day not yet over")
	clock = at.Add(25 * time.Hour)
	_, err = v.VerifyCard(card.Enrolment.Chain)
	require.ErrorIs(t, err, pki.ErrCRL, "a day over")
	require.NoError(t, a.RefreshCRLs(v, now))
	_, err = v.VerifyCard(card.Enrolment.Chain)
	require.NoError(t, err, "refreshed")

	clock = time.Now()
	require.NoError(t, a.RefreshCRLs(v, nil))
	_, err = v.VerifyCard(card.Enrolment.Chain)
	assert.NoError(t, err, "refreshed by the wall clock")
}
