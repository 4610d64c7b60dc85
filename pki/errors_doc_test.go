package pki

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestIssuePlatformAfterCAExpires: IssuePlatform, as IssueCard, refuses
// with ErrExpired a certificate that would start after its CA expires.
func TestIssuePlatformAfterCAExpires(t *testing.T) {
	h := newHierarchy(t)
	der, err := h.ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{NotBefore: t0.Add(DefaultCAValidity + time.Hour)})
	requireRefusal(t, err, ErrExpired, -1)
	assert.EqualError(t, err, "pki: certificate expired or not yet valid: the CA expires before the certificate would start")
	assert.Nil(t, der)
}
