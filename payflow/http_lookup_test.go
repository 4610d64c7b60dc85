package payflow_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestHTTPForgedRecordMeetsTheKeysReplyUntilItExpires: a forged consent
// under the Idempotency-Key of a genuine consent's stored reply, its body
// another, is answered 422 idempotency_key_reused by the key's entry up to
// the reply's last second by the handler's clock, and with its own refusal
// (400 bad_signature) once the reply has expired; it claims the key at
// neither time (PROTOCOL.md §5.5).
func TestHTTPForgedRecordMeetsTheKeysReplyUntilItExpires(t *testing.T) {
	w, _ := newReplyFixture(t)
	replies := &writeCountingReplies{m: payflow.NewReplyMemory()}
	w.serve(t, replies)
	shop, view := w.pending(t)
	consentTo := "/v1/requests/" + view.ID.String() + "/consent"
	status, code := w.postKey(t, consentTo, "", "genuine", &payflow.ApproveRequest{Consent: shop.Shopper.MustSign(paytest.Consent(view))})
	require.Equal(t, http.StatusOK, status, code)
	require.Equal(t, 2, replies.written(), "the key claimed, then its reply stored")

	forged := &payflow.ApproveRequest{Consent: strangerSigns(t, shop.Shopper.ID, paytest.Consent(view))}
	w.f.Clock.Advance(payflow.DefaultReplyTTL - time.Second)
	status, code = w.postKey(t, consentTo, "", "genuine", forged)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "the reply's last second")
	assert.Equal(t, "idempotency_key_reused", code, "the reply's last second")
	w.f.Clock.Advance(time.Second)
	status, code = w.postKey(t, consentTo, "", "genuine", forged)
	assert.Equal(t, http.StatusBadRequest, status, "the reply expired")
	assert.Equal(t, "bad_signature", code, "the reply expired")
	assert.Equal(t, 2, replies.written(), "the forged consent claims no key")
}
