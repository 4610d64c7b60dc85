package payflow_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// infoCounter counts the calls of Info that reach the platform.
type infoCounter struct {
	payflow.API
	infos atomic.Int32
}

func (a *infoCounter) Info(ctx context.Context) (*payflow.Info, error) {
	a.infos.Add(1)
	return a.API.Info(ctx)
}

// TestPhonesKeepThePlatformChain: a phone that verifies the platform's
// certificate chain asks Info for it once and keeps it: over two
// purchases, each with a consent and its receipt checked, Info is asked
// once in all.
func TestPhonesKeepThePlatformChain(t *testing.T) {
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &infoCounter{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.pair(t)
	w.purchase(t)
	w.purchase(t)
	assert.Equal(t, int32(1), api.infos.Load(), "the chain kept")
}
