package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestNewPlatformRequiresEachOption: NewPlatform refuses options without
// a ledger, a verifier or a receipt chain, and a receipt key that is not
// that of the chain's certificate; it takes a negative CacheTTL (no
// cache).
func TestNewPlatformRequiresEachOption(t *testing.T) {
	opts := platformOptions(t)
	o := opts
	o.Ledger = nil
	_, err := payflow.NewPlatform(o)
	assert.EqualError(t, err, "payflow: no ledger")
	o = opts
	o.Verifier = nil
	_, err = payflow.NewPlatform(o)
	assert.EqualError(t, err, "payflow: no verifier")
	o = opts
	o.Chain = [][]byte{}
	_, err = payflow.NewPlatform(o)
	assert.EqualError(t, err, "payflow: no receipt key and chain")
	o = opts
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	o.Key = key
	_, err = payflow.NewPlatform(o)
	assert.EqualError(t, err, "payflow: receipt key does not match its certificate")

	o = opts
	o.CacheTTL = -1
	p, err := payflow.NewPlatform(o)
	require.NoError(t, err, "a negative CacheTTL")
	require.NotNil(t, p)
}

// scanStore is a Store whose scan of the cards gives cards and err.
type scanStore struct {
	payflow.Store
	cards []*payflow.CardRecord
	err   error
}

func (s *scanStore) Cards(_ context.Context, fn func(*payflow.CardRecord) error) error {
	for _, c := range s.cards {
		if err := fn(c); err != nil {
			return err
		}
	}
	return s.err
}

// TestNewPlatformLoadsCards: NewPlatform starts with stored cards that
// the EID resolver refuses, logging them as a warning, and fails with
// the error of a scan of the cards that fails.
func TestNewPlatformLoadsCards(t *testing.T) {
	opts := platformOptions(t)
	var logged bytes.Buffer
	o := opts
	o.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	o.Store = &scanStore{Store: opts.Store, cards: []*payflow.CardRecord{{ID: "8944000000000000001", AdvSecret: []byte{1, 2, 3}}}}
	p, err := payflow.NewPlatform(o)
	require.NoError(t, err, "a card that the resolver refuses")
	require.NotNil(t, p)
	assert.Contains(t, logged.String(), "level=WARN")
	assert.Contains(t, logged.String(), "8944000000000000001")

	errScan := errors.New("scan failed")
	o = opts
	o.Store = &scanStore{Store: opts.Store, err: errScan}
	_, err = payflow.NewPlatform(o)
	assert.ErrorIs(t, err, errScan)
}
