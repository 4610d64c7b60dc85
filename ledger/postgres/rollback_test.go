package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
)

// stallProxy forwards TCP connections to a PostgreSQL server until it is
// stalled: from then on it forwards nothing, in either direction, and
// keeps the connections open, as a server that stops answering does, until
// it is closed.
type stallProxy struct {
	ln      net.Listener
	target  string
	stalled chan struct{} // closed by stall

	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
	closer sync.Once
}

// newStallProxy starts a proxy to the server of dsn, a URL, and returns it
// with dsn's URL pointed at it. The proxy is closed when the test ends, if
// not before.
func newStallProxy(t *testing.T, dsn string) (*stallProxy, string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	require.NoError(t, err)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	require.NotEmpty(t, u.Scheme, "the proxy rewrites URL DSNs only")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, target: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), stalled: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *stallProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(server, client) })
		p.wg.Go(func() { p.forward(client, server) })
	}
}

// forward copies src to dst until either fails or the proxy is stalled.
func (p *stallProxy) forward(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.stalled:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall stops forwarding, for good.
func (p *stallProxy) stall() { close(p.stalled) }

// close closes the listener and every connection; closing again does
// nothing.
func (p *stallProxy) close() {
	p.closer.Do(func() {
		p.ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// TestRollbackBounded: when the server stops answering as Update rolls
// back a transaction that fn failed, the ROLLBACK gives up after
// rollbackTimeout, Update returns fn's error, and the connection, still in
// its transaction, is discarded rather than returned to the pool; once the
// connection is gone, the server has rolled the transaction back.
func TestRollbackBounded(t *testing.T) {
	direct := testenv.PostgresSchema(t)
	p, dsn := newStallProxy(t, direct)
	s, err := Open(context.Background(), dsn, Options{MaxConns: 1})
	require.NoError(t, err)
	defer s.Close()
	defer p.close() // first: Close waits for the connection that Update holds
	// Generous: Update returns after rollbackTimeout; without a bound on
	// the ROLLBACK it would wait for as long as the proxy keeps the
	// connection open.
	ctx, cancel := context.WithTimeout(context.Background(), 4*rollbackTimeout)
	defer cancel()
	boom := errors.New("boom")
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err // the transaction is open once it succeeded
			}
			p.stall()
			return boom
		})
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, boom)
	case <-ctx.Done():
		t.Fatal("Update still waits for the ROLLBACK of a server that stopped answering")
	}
	assert.Zero(t, s.pool.Stat().IdleConns(), "the connection whose ROLLBACK timed out is not returned to the pool")

	// The proxy drops its connections: pgxpool then ends destroying the
	// connection (on a goroutine of its own), and the server rolls back
	// the transaction that held the ledger_state lock.
	p.close()
	require.Eventually(t, func() bool { return s.pool.Stat().TotalConns() == 0 }, rollbackTimeout, time.Millisecond,
		"the connection whose ROLLBACK timed out is kept")
	// A context of its own: ctx bounds Update's wait above, and a loaded
	// machine may spend it on the steps since.
	check, cancelCheck := context.WithTimeout(context.Background(), time.Minute)
	defer cancelCheck()
	other, err := Open(check, direct, Options{})
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, other.Update(check, func(tx ledger.Tx) error {
		_, err := tx.LastTimestamp()
		return err
	}), "the ledger_state lock is free")
}
