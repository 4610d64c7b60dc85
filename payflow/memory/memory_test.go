package memory_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

func TestConformance(t *testing.T) {
	paytest.Run(t, func(*testing.T) payflow.Store { return memory.New() })
}

func TestPlatform(t *testing.T) {
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		return paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	})
}

// TestPublicSurface: a Store shows what a payflow.Store and a
// payflow.ReplyReader are and nothing more: no exported field, no method
// beyond the interfaces'.
func TestPublicSurface(t *testing.T) {
	st := reflect.TypeFor[memory.Store]()
	for i := range st.NumField() {
		assert.False(t, st.Field(i).IsExported(), "field %s", st.Field(i).Name)
	}
	store, reader := reflect.TypeFor[payflow.Store](), reflect.TypeFor[payflow.ReplyReader]()
	pt := reflect.TypeFor[*memory.Store]()
	for i := range pt.NumMethod() {
		_, ok := store.MethodByName(pt.Method(i).Name)
		_, read := reader.MethodByName(pt.Method(i).Name)
		assert.True(t, ok || read, "method %s", pt.Method(i).Name)
	}
}
