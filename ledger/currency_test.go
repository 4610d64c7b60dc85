package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func TestLookupCurrency(t *testing.T) {
	tests := []struct {
		code     string
		numeric  uint32
		exponent uint8
	}{
		{"EUR", 978, 2}, {"USD", 840, 2}, {"CNY", 156, 2}, {"JPY", 392, 0}, {"KRW", 410, 0},
		{"KWD", 414, 3}, {"BHD", 48, 3}, {"TND", 788, 3}, {"CLF", 990, 4}, {"UYW", 927, 4},
		{"ISK", 352, 0}, {"HUF", 348, 2}, {"XOF", 952, 0}, {"XCG", 532, 2},
		// Withdrawn, kept for the ledgers kept in them.
		{"CUC", 931, 2}, {"SLL", 694, 2}, {"ZWL", 932, 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, ok := ledger.LookupCurrency(tt.code)
			require.True(t, ok)
			assert.Equal(t, tt.code, c.Code)
			assert.Equal(t, tt.numeric, c.Numeric)
			assert.Equal(t, tt.exponent, c.Exponent)
			assert.NotEmpty(t, c.Name)
			byNum, ok := ledger.CurrencyByLedger(tt.numeric)
			require.True(t, ok)
			assert.Equal(t, c, byNum)
		})
	}
	for _, code := range []string{"", "eur", "XAU", "XXX", "HRK", "ANG", "EURO"} {
		_, ok := ledger.LookupCurrency(code)
		assert.False(t, ok, code)
	}
	_, ok := ledger.CurrencyByLedger(0)
	assert.False(t, ok)
}

func TestCurrencyTable(t *testing.T) {
	all := ledger.Currencies()
	require.Greater(t, len(all), 150)
	seenNum := map[uint32]string{}
	for i, c := range all {
		require.Len(t, c.Code, 3)
		require.Equal(t, strings.ToUpper(c.Code), c.Code)
		if i > 0 {
			require.Less(t, all[i-1].Code, c.Code, "sorted and unique")
		}
		require.LessOrEqual(t, c.Exponent, uint8(4))
		require.NotZero(t, c.Numeric)
		require.Less(t, c.Numeric, uint32(1000))
		require.NotContains(t, seenNum, c.Numeric, "numeric code of %s", c.Code)
		seenNum[c.Numeric] = c.Code
	}
	all[0].Code = "changed"
	assert.NotEqual(t, "changed", ledger.Currencies()[0].Code, "Currencies returns a copy")
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		amount   uint64
		currency string
		want     string
	}{
		{1250, "EUR", "12.50"},
		{5, "EUR", "0.05"},
		{0, "EUR", "0.00"},
		{100, "EUR", "1.00"},
		{1250, "JPY", "1250"},
		{0, "JPY", "0"},
		{1, "KWD", "0.001"},
		{12345, "KWD", "12.345"},
		{1, "CLF", "0.0001"},
		{ledger.AmountLimit, "EUR", "92233720368547758.07"},
	}
	for _, tt := range tests {
		t.Run(tt.currency+"/"+tt.want, func(t *testing.T) {
			got, err := ledger.FormatAmount(tt.amount, tt.currency)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			back, err := ledger.ParseAmount(got, tt.currency)
			require.NoError(t, err)
			assert.Equal(t, tt.amount, back)
		})
	}
	_, err := ledger.FormatAmount(1, "ZZZ")
	require.ErrorIs(t, err, ledger.ErrUnknownCurrency)
	_, err = ledger.FormatAmount(ledger.AmountLimit+1, "EUR")
	require.ErrorIs(t, err, ledger.ErrBadAmount)
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, currency string
		want         uint64
		err          error
	}{
		{"12.5", "EUR", 1250, nil},
		{"12.50", "EUR", 1250, nil},
		{"12", "EUR", 1200, nil},
		{"0.01", "EUR", 1, nil},
		{"007", "EUR", 700, nil},
		{"1250", "JPY", 1250, nil},
		{"1.234", "KWD", 1234, nil},
		{"92233720368547758.07", "EUR", ledger.AmountLimit, nil},
		{"92233720368547758.08", "EUR", 0, ledger.ErrBadAmount},
		{"99999999999999999999", "JPY", 0, ledger.ErrBadAmount},
		{"12.505", "EUR", 0, ledger.ErrBadAmount},
		{"12.5", "JPY", 0, ledger.ErrBadAmount},
		{"12.", "EUR", 0, ledger.ErrBadAmount},
		{".5", "EUR", 0, ledger.ErrBadAmount},
		{"", "EUR", 0, ledger.ErrBadAmount},
		{"-1", "EUR", 0, ledger.ErrBadAmount},
		{"+1", "EUR", 0, ledger.ErrBadAmount},
		{"1,000", "EUR", 0, ledger.ErrBadAmount},
		{"1e3", "EUR", 0, ledger.ErrBadAmount},
		{" 1", "EUR", 0, ledger.ErrBadAmount},
		{"1.2.3", "EUR", 0, ledger.ErrBadAmount},
		{"١", "EUR", 0, ledger.ErrBadAmount},
		{"1", "eur", 0, ledger.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.currency+"/"+tt.in, func(t *testing.T) {
			got, err := ledger.ParseAmount(tt.in, tt.currency)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseAmount(f *testing.F) {
	f.Add("12.50", "EUR")
	f.Add("0.001", "KWD")
	f.Add("1250", "JPY")
	f.Add("92233720368547758.07", "EUR")
	f.Add("1.", "EUR")
	f.Fuzz(func(t *testing.T, s, currency string) {
		v, err := ledger.ParseAmount(s, currency)
		if err != nil {
			if !errors.Is(err, ledger.ErrBadAmount) {
				require.ErrorIs(t, err, ledger.ErrUnknownCurrency)
			}
			return
		}
		require.LessOrEqual(t, v, ledger.AmountLimit)
		// The canonical form parses back to the same amount.
		text, err := ledger.FormatAmount(v, currency)
		require.NoError(t, err)
		back, err := ledger.ParseAmount(text, currency)
		require.NoError(t, err)
		require.Equal(t, v, back)
	})
}

// BenchmarkParseAmount parses typical amounts: a price in cents, a whole
// number of yen, the largest amount in euros.
func BenchmarkParseAmount(b *testing.B) {
	inputs := []struct{ s, currency string }{{"12.50", "EUR"}, {"1250", "JPY"}, {"92233720368547758.07", "EUR"}}
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			if _, err := ledger.ParseAmount(in.s, in.currency); err != nil {
				b.Fatal(err)
			}
		}
	}
}
