package payflow

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStatusWriterKeepsTheFirstStatusAndError: a statusWriter records the
// status that the writer took first, a later WriteHeader (superfluous,
// which the writer ignores) not, and the first error of its Write.
func TestStatusWriterKeepsTheFirstStatusAndError(t *testing.T) {
	out := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: out}
	sw.WriteHeader(http.StatusServiceUnavailable)
	sw.WriteHeader(http.StatusInternalServerError)
	assert.Equal(t, http.StatusServiceUnavailable, sw.status)
	assert.Equal(t, http.StatusServiceUnavailable, out.Code)

	first, second := errors.New("connection reset"), errors.New("connection gone")
	sw = &statusWriter{ResponseWriter: &failingWriter{ResponseRecorder: httptest.NewRecorder(), n: 1, err: first}}
	sw.Write([]byte("ab"))
	sw.ResponseWriter.(*failingWriter).err = second
	sw.Write([]byte("cd"))
	assert.Equal(t, statusWriter{ResponseWriter: sw.ResponseWriter, status: http.StatusOK, bytes: 2, err: first}, *sw)
}

// TestStatusWriterUnwraps: a statusWriter gives the writer it wraps to an
// http.ResponseController, which flushes that writer, and takes no
// status for it.
func TestStatusWriterUnwraps(t *testing.T) {
	out := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: out}
	assert.NoError(t, http.NewResponseController(sw).Flush())
	assert.True(t, out.Flushed)
	assert.Zero(t, sw.status)
}
