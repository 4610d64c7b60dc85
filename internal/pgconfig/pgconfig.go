// Package pgconfig configures the pgx connections of the PostgreSQL
// stores.
package pgconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// CancelGrace is how long a call whose context ended waits for the server
// to cancel its statement before the connection is dropped.
const CancelGrace = time.Second

// codeQueryCanceled is the SQLSTATE of a statement that the server
// cancelled (query_canceled), as it does for a call whose context ended.
const codeQueryCanceled = "57014"

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
// call that reported its context's error may commit. The stores pass the
// errors of their calls through WithContextErr, so that such a call fails
// with an error wrapping its context's error too.
func CancelOnContextEnd(cfg *pgconn.Config) {
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: CancelGrace}
	}
}

// WithContextErr returns err wrapping ctx's error too when ctx has ended
// and err is the server's cancellation of a statement (SQLSTATE 57014,
// query_canceled), which a call whose context ends while its statement
// runs fails with (CancelOnContextEnd): errors.Is then holds for both
// context.Canceled or context.DeadlineExceeded and the server's error.
// Any other err, nil included, is returned as it is.
func WithContextErr(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if ctx.Err() == nil || !errors.As(err, &pgErr) || pgErr.Code != codeQueryCanceled || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}
