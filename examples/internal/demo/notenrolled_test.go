package demo

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestPhoneCardNotEnrolled: a phone program pointed with -url at a cloud
// that never enrolled its card (the cloud of another data folder), which
// refuses its login as one that the card's key did not sign, ends with an
// error that names the card and says that the cloud refused its login,
// and what to do, not with the cloud's bare bad signature.
func TestPhoneCardNotEnrolled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := setUpFolder(t)
	other, err := OpenCloud(ctx, CloudOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	h, err := payflow.NewHandler(other.Platform, payflow.HandlerOptions{Replies: other.Store})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for program, card := range map[string]string{"seller": "till", "shopper": "alice"} {
		t.Run(program, func(t *testing.T) {
			run := map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper}[program]
			var out bytes.Buffer
			err := run(ctx, []string{"-data", dir, "-url", srv.URL, "-wait", "5s"}, &out)
			require.ErrorIs(t, err, payflow.ErrSignature)
			assert.EqualError(t, err, "demo: card "+card+": logging in to "+srv.URL+": payflow: bad_signature: payflow: bad signature: pki: card record: record: bad signature"+
				" (the cloud did not enrol this card with its key: point -url at the cloud started with this data folder)")
		})
	}
}
