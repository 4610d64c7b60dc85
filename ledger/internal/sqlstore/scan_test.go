package sqlstore

import (
	"database/sql"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// row is a result row of the values an engine's driver gives: Scan hands
// each to its destination, a sql.Scanner.
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("row of %d columns scanned into %d", len(r), len(dest))
	}
	for i, d := range dest {
		if err := d.(sql.Scanner).Scan(r[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestScanDamaged checks that a column value the ledger does not write,
// of another type, out of its field's range or above the limit, fails the
// scan of its row with an error wrapping ledger.ErrCorrupt, and that the
// extreme values the ledger writes are read.
func TestScanDamaged(t *testing.T) {
	id := ledger.IDFromUint64s(math.MaxUint64, 1)
	failed := func(id, result, ts any) row { return row{id, result, ts} }
	good := failed(id[:], int64(ledger.TransferExceedsCredits), int64(math.MaxInt64))
	f, err := ScanFailed(good)
	require.NoError(t, err)
	assert.Equal(t, ledger.FailedTransfer{ID: id, Result: ledger.TransferExceedsCredits, Timestamp: math.MaxInt64}, f)
	for _, tt := range []struct {
		name string
		row  row
		err  string
	}{
		{"id_of_another_type", failed("0123456789abcdef", int64(1), int64(1)), "sqlstore: ledger: store inconsistent: id column holds string, want bytes"},
		{"id_too_short", failed(id[:15], int64(1), int64(1)), "sqlstore: ledger: store inconsistent: ledger: malformed id: 15 bytes, want 16"},
		{"id_too_long", failed(append(id[:], 0), int64(1), int64(1)), "sqlstore: ledger: store inconsistent: ledger: malformed id: 17 bytes, want 16"},
		{"null_id", failed(nil, int64(1), int64(1)), "sqlstore: ledger: store inconsistent: id column holds <nil>, want bytes"},
		{"integer_of_another_type", failed(id[:], "1", int64(1)), "sqlstore: ledger: store inconsistent: integer column holds string"},
		{"integer_below_its_range", failed(id[:], int64(-1), int64(1)), "sqlstore: ledger: store inconsistent: integer -1 out of range"},
		{"integer_above_its_range", failed(id[:], int64(math.MaxUint8)+1, int64(1)), "sqlstore: ledger: store inconsistent: integer 256 out of range"},
		{"timestamp_of_another_type", failed(id[:], int64(1), int32(1)), "sqlstore: ledger: store inconsistent: integer column holds int32"},
		{"timestamp_above_the_limit", failed(id[:], int64(1), int64(-1)), "sqlstore: ledger: store inconsistent: 18446744073709551615 above the limit 9223372036854775807"},
		{"timestamp_least", failed(id[:], int64(1), int64(math.MinInt64)), "sqlstore: ledger: store inconsistent: 9223372036854775808 above the limit 9223372036854775807"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ScanFailed(tt.row)
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			assert.EqualError(t, err, tt.err)
		})
	}
}
