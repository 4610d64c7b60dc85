package postgres

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConnConfigReadCommitted: the connections' configuration sets
// default_transaction_isolation to READ COMMITTED once, whatever the DSN
// sets it to and in whatever case it spells the name (the server takes
// names in any case and, given two, whichever came last).
func TestConnConfigReadCommitted(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u@127.0.0.1:5432/test",
		"postgres://u@127.0.0.1:5432/test?default_transaction_isolation=serializable",
		"postgres://u@127.0.0.1:5432/test?DEFAULT_TRANSACTION_ISOLATION=serializable",
		"postgres://u@127.0.0.1:5432/test?Default_Transaction_Isolation=serializable&default_transaction_isolation=repeatable%20read",
		"host=127.0.0.1 user=u dbname=test DEFAULT_TRANSACTION_ISOLATION='repeatable read'",
	} {
		cfg, err := connConfig(dsn)
		require.NoError(t, err, dsn)
		var keys []string
		for k, v := range cfg.RuntimeParams {
			if strings.EqualFold(k, "default_transaction_isolation") {
				keys = append(keys, k+"="+v)
			}
		}
		require.Equal(t, []string{"default_transaction_isolation=read committed"}, keys, dsn)
	}
}

// TestConnConfigRefusesBadDSN: a DSN that does not parse is refused,
// without its password.
func TestConnConfigRefusesBadDSN(t *testing.T) {
	_, err := connConfig("host=127.0.0.1 password=secret9 port=notaport")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret9")
}
