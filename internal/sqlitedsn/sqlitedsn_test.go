package sqlitedsn_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedsn"
)

func TestDSN(t *testing.T) {
	w, err := sqlitedsn.DSN("/var/lib/casim pay/db.sqlite", false, sqlitedsn.BusyTimeout(0), "synchronous(FULL)")
	require.NoError(t, err)
	assert.Equal(t, "file:/var/lib/casim%20pay/db.sqlite?_pragma=busy_timeout%285000%29&_pragma=synchronous%28FULL%29&_txlock=immediate", w)

	r, err := sqlitedsn.DSN("/tmp/x.db", true, sqlitedsn.BusyTimeout(1500*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, "file:/tmp/x.db?_pragma=busy_timeout%281500%29&_pragma=query_only%281%29", r)

	rel, err := sqlitedsn.DSN("x.db", true)
	require.NoError(t, err)
	abs, err := filepath.Abs("x.db")
	require.NoError(t, err)
	assert.Equal(t, "file:"+filepath.ToSlash(abs)+"?_pragma=query_only%281%29", rel)
}
