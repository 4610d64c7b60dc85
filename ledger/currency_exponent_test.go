package ledger

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAmountsOfAnyExponent parses and formats amounts of currencies whose
// minor unit has more digits than any of the table (at most 4), up to the
// largest Exponent: the value is right, or ErrBadAmount when it exceeds
// AmountLimit, and nothing panics.
func TestAmountsOfAnyExponent(t *testing.T) {
	zeros := strings.Repeat("0", 255)
	tests := []struct {
		exponent uint8
		in       string
		want     uint64
		err      error
	}{
		{5, "1", 100_000, nil},
		{5, "1.5", 150_000, nil},
		{5, "0.00001", 1, nil},
		{5, "92233720368547.75807", AmountLimit, nil},
		{5, "92233720368547.75808", 0, ErrBadAmount},
		{5, "0.000001", 0, ErrBadAmount},
		{18, "9.223372036854775807", AmountLimit, nil},
		{18, "9.3", 0, ErrBadAmount},
		{18, "1", 1_000_000_000_000_000_000, nil},
		{19, "1", 0, ErrBadAmount},
		{19, "0.1", 1_000_000_000_000_000_000, nil},
		{19, "0", 0, nil},
		{20, "0.00000000000000000001", 1, nil},
		{255, "0", 0, nil},
		{255, "0." + zeros[:254] + "7", 7, nil},
		{255, "0." + zeros, 0, nil},
		{255, "1", 0, ErrBadAmount},
		{255, "0." + zeros + "0", 0, ErrBadAmount},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d/exponent_%d", i, tt.exponent), func(t *testing.T) {
			c := Currency{Code: "XTS", Exponent: tt.exponent}
			got, err := c.parseAmount(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			text, err := c.formatAmount(got)
			require.NoError(t, err)
			back, err := c.parseAmount(text)
			require.NoError(t, err)
			assert.Equal(t, got, back, "formatted as %s", text)
		})
	}
}
