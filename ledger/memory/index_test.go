package memory

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func TestIndex(t *testing.T) {
	tests := []struct {
		name string
		ids  func(i int) ledger.ID
	}{
		{"ascending", func(i int) ledger.ID { return ledger.IDFromUint64(uint64(10 + 3*i)) }},
		{"descending", func(i int) ledger.ID { return ledger.IDFromUint64(uint64(1_000_000 - i)) }},
		{"random", func(i int) ledger.ID {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			return ledger.IDFromUint64s(r.Uint64(), r.Uint64())
		}},
		{"interleaved", func(i int) ledger.ID {
			if i%2 == 0 {
				return ledger.IDFromUint64(uint64(1_000_000 + i))
			}
			return ledger.IDFromUint64(uint64(i))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c chunks
			var x index
			const n = 20_000
			for i := range n {
				tr := ledger.Transfer{ID: tt.ids(i)}
				x.put(&c, c.append(&tr))
			}
			for i := range n {
				pos, ok := x.get(&c, tt.ids(i))
				require.True(t, ok, "id %d", i)
				require.Equal(t, i, pos)
			}
			for _, missing := range []ledger.ID{{}, ledger.IDMax, ledger.IDFromUint64(2_000_000), ledger.IDFromUint64(1_000_001)} {
				_, ok := x.get(&c, missing)
				require.False(t, ok, missing.String())
			}
		})
	}
}
