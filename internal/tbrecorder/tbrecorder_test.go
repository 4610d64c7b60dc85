package tbrecorder

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRun: the errors are recorded in order and f goes on after them; a
// Fatal or a Skip ends f there, its message recorded.
func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name        string
		end         func(tb testing.TB)
		fatal, skip string
	}{
		{"returns", func(testing.TB) {}, "", ""},
		{"Fatal", func(tb testing.TB) { tb.Fatal("fatal ", 1) }, "fatal 1", ""},
		{"Fatalf", func(tb testing.TB) { tb.Fatalf("fatal %d", 2) }, "fatal 2", ""},
		{"Skip", func(tb testing.TB) { tb.Skip("skip ", 1) }, "", "skip 1"},
		{"Skipf", func(tb testing.TB) { tb.Skipf("skip %d", 2) }, "", "skip 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			after := false
			r := Run(t, func(tb testing.TB) {
				tb.Error("one")
				tb.Errorf("two %d", 2)
				tt.end(tb)
				after = true
			})
			assert.Equal(t, []string{"one", "two 2"}, r.Errors)
			assert.Equal(t, tt.fatal, r.FatalMessage)
			assert.Equal(t, tt.skip, r.SkipMessage)
			assert.Equal(t, tt.fatal == "" && tt.skip == "", after, "f went on")
		})
	}
}
