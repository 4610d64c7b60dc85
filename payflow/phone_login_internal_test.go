package payflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPhoneLogsInPastAnExpiredLoginGotMeanwhile: a call that found its
// login stale, and then finds the phone holding another login that a
// call got meanwhile but that has expired by the phone's clock (a phone
// whose clock is ahead of the platform's), logs in itself rather than use
// that login's token.
func TestPhoneLogsInPastAnExpiredLoginGotMeanwhile(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	api, card := newTurnAPI(now), &turnCard{}
	close(api.release)
	p := turnPhone(api, card, now, make(chan struct{}, 1)) // token-0, expired at now
	stale := &LoginResponse{Token: "token-stale", CardID: "card-1", ExpiresAt: now.Add(time.Hour)}
	l, err := p.logIn(context.Background(), stale)
	require.NoError(t, err)
	assert.Equal(t, "token-1", l.Token)
	_, logins := api.counts()
	assert.Equal(t, 1, logins)
	assert.Equal(t, 1, card.signed())
}
