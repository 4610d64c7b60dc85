package ledger

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestApplyLinked runs applyLinked over events described as "+" (created)
// or "-" (fails), prefixed with "L" when linked, and checks the results,
// which events were applied and the hooks called, in order.
func TestApplyLinked(t *testing.T) {
	res := chainResults[string]{created: "ok", open: "open", failed: "linked_failed"}
	tests := []struct {
		name    string
		events  []string
		ends    []int
		want    []string
		applied []int
		hooks   string
	}{
		{"no chain", []string{"+", "-", "+"}, []int{3}, []string{"ok", "-", "ok"}, []int{0, 1, 2}, ""},
		{"chain created", []string{"L+", "L+", "+"}, []int{3}, []string{"ok", "ok", "ok"}, []int{0, 1, 2}, "oc"},
		{"chain fails in the middle", []string{"L+", "L-", "+", "+"}, []int{4},
			[]string{"linked_failed", "-", "linked_failed", "ok"}, []int{0, 1, 3}, "orc"},
		{"chain fails at its last", []string{"+", "L+", "-"}, []int{3},
			[]string{"ok", "linked_failed", "-"}, []int{0, 1, 2}, "orc"},
		{"chain left open", []string{"+", "L+", "L+"}, []int{3},
			[]string{"ok", "linked_failed", "open"}, []int{0, 1}, "orc"},
		{"one linked event alone", []string{"L+"}, []int{1}, []string{"open"}, nil, "orc"},
		{"chain ends at a request's end", []string{"L+", "L+", "+", "L+", "+"}, []int{2, 5},
			[]string{"linked_failed", "open", "ok", "ok", "ok"}, []int{0, 2, 3, 4}, "orcoc"},
		{"two chains", []string{"L-", "+", "L+", "+"}, []int{4},
			[]string{"-", "linked_failed", "ok", "ok"}, []int{0, 2, 3}, "orcoc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var applied []int
			hooks := ""
			got := make([]string, len(tt.events))
			applyLinked(got, tt.ends, res, chainHooks{
				open:     func() { hooks += "o" },
				rollback: func() { hooks += "r" },
				close:    func() { hooks += "c" },
			},
				func(i int) bool { return tt.events[i][0] == 'L' },
				func(i int) string {
					applied = append(applied, i)
					if e := tt.events[i]; e[len(e)-1] == '+' {
						return "ok"
					}
					return "-"
				})
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.applied, applied)
			assert.Equal(t, tt.hooks, hooks)
		})
	}
}
