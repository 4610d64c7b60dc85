package sqlstore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// statement is a statement that a Reader ran, with its arguments.
type statement struct {
	query string
	args  []any
}

// recordingReader returns a Reader of dialect d whose statements, which
// read no row, are appended to ran, each with a copy of its arguments
// (the Reader may reuse their slice once the statement has run).
func recordingReader(d Dialect, ran *[]statement) Reader {
	return Reader{Dialect: d, Query: func(q string, args []any, _ func(Scanner) error) error {
		*ran = append(*ran, statement{q, slices.Clone(args)})
		return nil
	}}
}

func TestPowerOfTwo(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 511: 512, 512: 512, 513: 1024} {
		assert.Equal(t, want, PowerOfTwo(n), "n = %d", n)
	}
}

// TestIDSetStatements checks the statements of an ID lookup: none for no
// ID; on SQLite an IN list of at most MaxInList IDs a statement, padded
// to a power of two by repeating its last ID; on PostgreSQL one statement
// of = ANY($1) with every ID.
func TestIDSetStatements(t *testing.T) {
	ids := make([]ID, 2*MaxInList+3)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(uint64(i + 1))
	}
	inList := func(n int) string {
		s := "SELECT " + AccountColumns + " FROM accounts WHERE id IN ("
		for i := range n {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("?%d", i+1)
		}
		return s + ")"
	}
	// args returns the arguments of an IN list of ids padded to n.
	args := func(ids []ID, n int) []any {
		a := make([]any, n)
		for i := range a {
			a[i] = ids[min(i, len(ids)-1)][:]
		}
		return a
	}
	for _, tt := range []struct {
		name string
		ids  []ID
		want []statement
	}{
		{"none", nil, nil},
		{"one", ids[:1], []statement{{inList(1), args(ids[:1], 1)}}},
		{"two", ids[:2], []statement{{inList(2), args(ids[:2], 2)}}},
		{"three_padded", ids[:3], []statement{{inList(4), args(ids[:3], 4)}}},
		{"a_full_list", ids[:MaxInList], []statement{{inList(MaxInList), args(ids[:MaxInList], MaxInList)}}},
		{"two_lists_and_one_padded", ids, []statement{
			{inList(MaxInList), args(ids[:MaxInList], MaxInList)},
			{inList(MaxInList), args(ids[MaxInList:2*MaxInList], MaxInList)},
			{inList(4), args(ids[2*MaxInList:], 4)},
		}},
	} {
		t.Run("sqlite/"+tt.name, func(t *testing.T) {
			var ran []statement
			got, err := recordingReader(SQLite, &ran).Accounts(tt.ids)
			require.NoError(t, err)
			assert.Empty(t, got)
			assert.Equal(t, tt.want, ran)
		})
	}
	t.Run("postgres", func(t *testing.T) {
		var ran []statement
		r := recordingReader(Postgres, &ran)
		_, err := r.Accounts(nil)
		require.NoError(t, err)
		assert.Empty(t, ran, "no ID")
		_, err = r.Accounts(ids)
		require.NoError(t, err)
		want := make([][]byte, len(ids))
		for i := range ids {
			want[i] = ids[i][:]
		}
		assert.Equal(t, []statement{{"SELECT " + AccountColumns + " FROM accounts WHERE id = ANY($1)", []any{want}}}, ran)
	})
}
