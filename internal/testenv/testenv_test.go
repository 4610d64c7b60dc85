package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tbrecorder"
)

// unsetenv unsets the environment variable key until t ends.
func unsetenv(t *testing.T, key string) {
	t.Setenv(key, "")
	require.NoError(t, os.Unsetenv(key))
}

// TestSkips: PostgresDSN skips unless PostgresEnv is set, and PCSC unless
// PCSCEnv is 1, with a message that starts with SkipPrefix, which .ci/run
// looks for.
func TestSkips(t *testing.T) {
	pg := "integration test skipped: set CASIMPAY_POSTGRES_DSN to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)"
	pcsc := "integration test skipped: set CASIMPAY_PCSC=1 with pcscd, vsmartcard-vpcd and opensc-tool running"
	for _, tt := range []struct {
		name, env, value string // value "-": unset
		call             func(testing.TB) string
		want             string // "" when skipped
		skip             string
	}{
		{"postgres unset", PostgresEnv, "-", PostgresDSN, "", pg},
		{"postgres empty", PostgresEnv, "", PostgresDSN, "", pg},
		{"postgres set", PostgresEnv, "host=db", PostgresDSN, "host=db", ""},
		{"pcsc unset", PCSCEnv, "-", func(t testing.TB) string { PCSC(t); return "ran on" }, "", pcsc},
		{"pcsc 0", PCSCEnv, "0", func(t testing.TB) string { PCSC(t); return "ran on" }, "", pcsc},
		{"pcsc 1", PCSCEnv, "1", func(t testing.TB) string { PCSC(t); return "ran on" }, "ran on", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value == "-" {
				unsetenv(t, tt.env)
			} else {
				t.Setenv(tt.env, tt.value)
			}
			var got string
			r := tbrecorder.Run(t, func(tb testing.TB) { got = tt.call(tb) })
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.skip, r.SkipMessage)
			assert.Empty(t, r.Errors)
			assert.Empty(t, r.FatalMessage)
		})
	}
}

// TestPostgresSchema: PostgresSchema returns a DSN, of the form of
// PostgresEnv's, whose search_path is a new schema, dropped when t ends.
func TestPostgresSchema(t *testing.T) {
	base := PostgresDSN(t)
	cfg, err := pgx.ParseConfig(base)
	require.NoError(t, err)
	keyValue := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		keyValue += " password=" + cfg.Password
	}
	if u, err := url.Parse(base); err == nil && u.Query().Get("sslmode") != "" {
		keyValue += " sslmode=" + u.Query().Get("sslmode")
	}
	ctx := context.Background()
	for name, dsn := range map[string]string{"url": base, "key_value": keyValue} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(PostgresEnv, dsn)
			var schema string
			t.Run("schema", func(t *testing.T) {
				conn, err := pgx.Connect(ctx, PostgresSchema(t))
				require.NoError(t, err)
				defer conn.Close(ctx)
				require.NoError(t, conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema))
				assert.True(t, strings.HasPrefix(schema, "t_"), "schema %q", schema)
				_, err = conn.Exec(ctx, "CREATE TABLE x (k int)")
				require.NoError(t, err)
			})
			conn, err := pgx.Connect(ctx, dsn)
			require.NoError(t, err)
			defer conn.Close(ctx)
			var n int
			require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n))
			assert.Zero(t, n, "schema %q dropped", schema)
		})
	}
}

// TestSilentServer: SilentServer listens on a loopback address, a host
// and port, and accepts connections until t ends, when it closes them and
// stops listening.
func TestSilentServer(t *testing.T) {
	var (
		addr string
		conn net.Conn
	)
	t.Run("server", func(t *testing.T) {
		addr = SilentServer(t)
		host, _, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host)
		conn, err = net.Dial("tcp", addr)
		require.NoError(t, err)
	})
	defer conn.Close()
	_, err := conn.Read(make([]byte, 1))
	assert.Error(t, err, "the connection is closed")
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "no server listens")
}
