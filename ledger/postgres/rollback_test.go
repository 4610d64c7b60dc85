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
	swept   chan struct{} // closed by close once it closed the connections

	mu     sync.Mutex
	conns  []net.Conn
	closed bool // set by close with the connections closed
	wg     sync.WaitGroup
	closer sync.Once

	// dialed, when set by a test, runs between the proxy's dial of the
	// server for a connection it accepted and its taking the connection
	// in.
	dialed func()
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
	p := startStallProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// startStallProxy starts a proxy to target, a host and port, with the
// hook dialed (nil for none). The proxy is closed when the test ends, if
// not before.
func startStallProxy(t *testing.T, target string, dialed func()) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, target: target, stalled: make(chan struct{}), swept: make(chan struct{}), dialed: dialed}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
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
		if p.dialed != nil {
			p.dialed()
		}
		p.mu.Lock()
		if p.closed {
			// Accepted as close ran, which closed the others: left open,
			// it would hold close until the server ends it.
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns = append(p.conns, client, server)
		p.wg.Go(func() { p.forward(server, client) })
		p.wg.Go(func() { p.forward(client, server) })
		p.mu.Unlock()
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

// close closes the listener and every connection, those that accept
// takes in meanwhile too; closing again does nothing.
func (p *stallProxy) close() {
	p.closer.Do(func() {
		p.ln.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		close(p.swept)
		p.wg.Wait()
	})
}

// TestStallProxyClosesLateConnection: a connection that the proxy
// accepted as it was being closed, once it had closed the others (a
// cancel request that pgx sends as it destroys a connection whose
// statement timed out, say), is closed too: close returns, and the
// client reads the end of the connection, rather than both waiting for
// the server, which PostgreSQL ends after authentication_timeout (a
// minute) for a connection that sent nothing.
func TestStallProxyClosesLateConnection(t *testing.T) {
	// A server that accepts and says nothing, as PostgreSQL waiting for
	// a startup packet.
	server := testenv.SilentServer(t)
	closed := make(chan struct{})
	proxy := make(chan *stallProxy, 1)
	p := startStallProxy(t, server, func() {
		p := <-proxy
		go func() {
			defer close(closed)
			p.close()
		}()
		<-p.swept // close has closed the connections it took in
	})
	proxy <- p
	client, err := net.Dial("tcp", p.ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	select {
	case <-closed:
	case <-time.After(30 * time.Second): // the server, which never ends the connection, holds it for good
		t.Fatal("close waits for a connection it accepted as it closed")
	}
	_, err = client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the proxy closed the client's connection")
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

	// A context of its own: ctx bounds Update's wait above, and a loaded
	// machine may spend it on the steps since.
	check, cancelCheck := context.WithTimeout(context.Background(), time.Minute)
	defer cancelCheck()
	// The proxy drops its connections: pgxpool then ends destroying the
	// connection (on a goroutine of its own), and the server rolls back
	// the transaction that held the ledger_state lock. Close returns once
	// the pool has destroyed every connection, waiting for one that
	// Update kept acquired for as long as it is kept.
	p.close()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-check.Done():
		t.Fatal("the connection whose ROLLBACK timed out is kept")
	}
	other, err := Open(check, direct, Options{})
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, other.Update(check, func(tx ledger.Tx) error {
		_, err := tx.LastTimestamp()
		return err
	}), "the ledger_state lock is free")
}
