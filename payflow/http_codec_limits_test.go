package payflow_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// wireMapOfOneString returns a CBOR map of one entry, key (an integer
// under 24), whose value is a text or byte string (major type major, 3
// or 2) with a 4-octet length: size octets in all.
func wireMapOfOneString(key, major byte, size int) []byte {
	b := []byte{0xa1, key, major<<5 | 26, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[3:], uint32(size-len(b)))
	return append(b, bytes.Repeat([]byte{'a'}, size-len(b))...)
}

// TestHTTPDefaultMaxBodyBytes: by default the handler takes a request
// body of 64 KiB exactly (a challenge request for a card ID of 65529
// octets is answered 200) and refuses one of an octet more, 422
// over_limit.
func TestHTTPDefaultMaxBodyBytes(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	post := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/challenges", bytes.NewReader(body))
		req.Header.Set("Content-Type", payflow.ContentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := post(wireMapOfOneString(1, 3, 64<<10))
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	rec = post(wireMapOfOneString(1, 3, 64<<10+1))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(rec.Body.Bytes(), &e))
	assert.Equal(t, "over_limit", e.Code)
	assert.Equal(t, "payflow: over limit: body larger than 65536 bytes", e.Message)
}

// TestClientDefaultMaxReplyBytes: by default the client takes a reply
// of 4 MiB exactly (an Info with an unknown key whose byte string fills
// it) and refuses one of an octet more with ErrInternal.
func TestClientDefaultMaxReplyBytes(t *testing.T) {
	for _, tt := range []struct {
		size int
		want string // "" for none
	}{
		{4 << 20, ""},
		{4<<20 + 1, "payflow: internal error: reply larger than " + strconv.Itoa(4<<20) + " bytes"},
	} {
		reply := wireMapOfOneString(23, 2, tt.size)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", payflow.ContentType)
			w.Write(reply)
		}))
		c := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1})
		_, err := c.Info(context.Background())
		srv.Close()
		if tt.want == "" {
			assert.NoError(t, err, "reply of %d octets", tt.size)
			continue
		}
		assert.ErrorIs(t, err, payflow.ErrInternal)
		assert.EqualError(t, err, tt.want)
	}
}
