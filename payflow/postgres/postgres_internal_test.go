package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/pki"
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

// sentConn is a connection that, while armed holds a marker, calls sent
// at its first read after a write that holds the marker: once a statement
// with the marker among its arguments has gone out, before its answer is
// read.
type sentConn struct {
	net.Conn
	armed *atomic.Pointer[[]byte]
	sent  func()
	// due is set by Write and taken by Read, which pgx may call on another
	// goroutine (its background reader).
	due atomic.Bool
}

func (c *sentConn) Write(p []byte) (int, error) {
	if m := c.armed.Load(); m != nil && bytes.Contains(p, *m) {
		c.due.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *sentConn) Read(p []byte) (int, error) {
	if c.due.CompareAndSwap(true, false) {
		c.sent()
	}
	return c.Conn.Read(p)
}

// TestConsumeCancelledOnceCommitted: a Consume whose context ends once
// its statement has deleted the nonce and committed, before the call has
// read the answer, reports the nonce consumed (nil), for it is, rather
// than the context's error: the next Consume of the nonce fails with
// pki.ErrNonce. Through database/sql, whose rows close when the context
// ends, Scan could find the rows closed and return context.Canceled: a
// race with database/sql's closing of the rows, which the test wins in a
// few of its tries under the race detector.
func TestConsumeCancelledOnceCommitted(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, err := Open(ctx, dsn, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	other, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer other.Close(ctx)

	var nonce []byte
	var cancel context.CancelFunc
	// sent waits for the nonce's deletion to commit, then ends the
	// call's context.
	sent := func() {
		for range 10000 {
			var n int
			require.NoError(t, other.QueryRow(ctx, `SELECT count(*) FROM payflow_nonces WHERE nonce = $1`, nonce).Scan(&n))
			if n == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
	}
	cfg, err := connConfig(dsn)
	require.NoError(t, err)
	var armed atomic.Pointer[[]byte]
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &sentConn{Conn: c, armed: &armed, sent: sent}, nil
	}
	db := stdlib.OpenDB(*cfg)
	s = newStore(db)
	defer s.Close()
	now := time.Now()
	for i := range 50 {
		nonce = fmt.Appendf(nil, "casimpay-nonce-%03d", i)
		require.NoError(t, s.Add(ctx, nonce, now.Add(time.Hour)))
		var cctx context.Context
		cctx, cancel = context.WithCancel(ctx)
		armed.Store(&nonce)
		err := s.Consume(cctx, nonce, now)
		armed.Store(nil)
		cancel()
		require.NoError(t, err, "try %d: the nonce was consumed", i)
		require.ErrorIs(t, s.Consume(ctx, nonce, now), pki.ErrNonce)
	}
}

// TestOpenMaxConns: the pool opens at most MaxConns connections, 16 when
// MaxConns is zero, and keeps as many idle: none of those that a burst of
// calls opened is closed once they are done.
func TestOpenMaxConns(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	for _, c := range []struct{ opt, want int }{{0, 16}, {3, 3}} {
		s, err := Open(ctx, dsn, Options{MaxConns: c.opt})
		require.NoError(t, err)
		assert.Equal(t, c.want, s.db.Stats().MaxOpenConnections, "MaxConns %d", c.opt)
		var conns []*sql.Conn
		for range c.want {
			conn, err := s.db.Conn(ctx)
			require.NoError(t, err)
			conns = append(conns, conn)
		}
		for _, conn := range conns {
			require.NoError(t, conn.Close())
		}
		st := s.db.Stats()
		assert.Equal(t, c.want, st.Idle, "MaxConns %d: idle", c.opt)
		assert.Equal(t, c.want, st.OpenConnections, "MaxConns %d: open", c.opt)
		require.NoError(t, s.Close())
	}
}
