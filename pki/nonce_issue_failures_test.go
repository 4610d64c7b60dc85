package pki

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var errNonceStoreDown = errors.New("nonce store down")

// unrecordedNonces is a NonceStore that records no nonce.
type unrecordedNonces struct{}

func (unrecordedNonces) Add(context.Context, []byte, time.Time) error     { return errNonceStoreDown }
func (unrecordedNonces) Consume(context.Context, []byte, time.Time) error { return errNonceStoreDown }

// TestNewNonceFails: NewNonce issues no nonce when its Rand runs out
// before the nonce is drawn, or when its NonceStore cannot record it.
func TestNewNonceFails(t *testing.T) {
	h := newHierarchy(t)
	tests := []struct {
		name string
		opts ChallengerOptions
		want error
		text string
	}{
		{"rand", ChallengerOptions{Rand: bytes.NewReader(make([]byte, 31))}, io.ErrUnexpectedEOF, "pki: nonce: unexpected EOF"},
		{"store", ChallengerOptions{Nonces: unrecordedNonces{}}, errNonceStoreDown, "nonce store down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChallenger(t, h, newClock(t0.Add(time.Hour)), tt.opts)
			n, err := c.NewNonce(context.Background())
			assert.ErrorIs(t, err, tt.want)
			assert.EqualError(t, err, tt.text)
			assert.Nil(t, n)
		})
	}
}
