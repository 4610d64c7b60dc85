// Package pgconfig configures the pgx connections of the PostgreSQL
// stores.
package pgconfig

import (
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// CancelGrace is how long a call whose context ended waits for the server
// to cancel its statement before the connection is dropped.
const CancelGrace = time.Second

// CancelOnContextEnd makes a call on a connection of cfg whose context
// ends while its statement runs ask the server to cancel the statement (a
// cancel request), and return once the server has answered, with its
// error (SQLSTATE 57014, query_canceled) or the statement's result; the
// connection is dropped only when the server answers neither within
// CancelGrace. pgx's default drops the connection at once and sends the
// cancel request only after the call has returned: until it lands, the
// statement stays on the server, a backend beyond the pool's size, and
// when it waited for a lock that is freed meanwhile it runs on, with the
// rest of its pipeline, a COMMIT included, so that the transaction of a
// call that reported its context's error may commit.
func CancelOnContextEnd(cfg *pgconn.Config) {
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: CancelGrace}
	}
}
