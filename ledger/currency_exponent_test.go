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

// FuzzAmountOfAnyExponent parses s and formats amount in a currency of any
// Exponent (0 to 255), beyond the table's (at most 4): a failure is
// ErrBadAmount, never a panic; an amount that parses stays within
// AmountLimit and its canonical form parses back to it; and an amount
// formats exactly when it is within AmountLimit, into a text that parses
// back to it and is its canonical form.
func FuzzAmountOfAnyExponent(f *testing.F) {
	f.Add("12.50", uint8(2), uint64(1250))
	f.Add("1", uint8(5), uint64(100_000))
	f.Add("9.223372036854775807", uint8(18), AmountLimit)
	f.Add("0.1", uint8(19), AmountLimit+1)
	f.Add("0."+strings.Repeat("0", 254)+"7", uint8(255), uint64(7))
	f.Add("1.", uint8(0), uint64(0))
	f.Fuzz(func(t *testing.T, s string, exponent uint8, amount uint64) {
		c := Currency{Code: "XTS", Exponent: exponent}
		if v, err := c.parseAmount(s); err != nil {
			require.ErrorIs(t, err, ErrBadAmount)
		} else {
			require.LessOrEqual(t, v, AmountLimit)
			text, err := c.formatAmount(v)
			require.NoError(t, err)
			back, err := c.parseAmount(text)
			require.NoError(t, err)
			require.Equal(t, v, back, "%q formatted as %q", s, text)
		}
		text, err := c.formatAmount(amount)
		if amount > AmountLimit {
			require.ErrorIs(t, err, ErrBadAmount)
			return
		}
		require.NoError(t, err)
		back, err := c.parseAmount(text)
		require.NoError(t, err, "%d formatted as %q", amount, text)
		require.Equal(t, amount, back, "formatted as %q", text)
		again, err := c.formatAmount(back)
		require.NoError(t, err)
		require.Equal(t, text, again)
	})
}
