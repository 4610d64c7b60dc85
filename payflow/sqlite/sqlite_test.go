package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite/sqlitewritetest"
	"github.com/casimpay/casimpay/ledger"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki/record"
)

func open(tb testing.TB, path string) (*sqlite.Store, error) {
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { s.Close() })
	return s, nil
}

func mustOpen(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := open(t, path)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	paytest.Run(t, func(t *testing.T) payflow.Store { return mustOpen(t, filepath.Join(t.TempDir(), "casimpay.db")) })
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	s := mustOpen(t, path)
	require.NoError(t, s.Add(context.Background(), []byte("nonce"), time.Now().Add(time.Hour)))
	require.NoError(t, s.Close())
	s = mustOpen(t, path)
	require.NoError(t, s.Consume(context.Background(), []byte("nonce"), time.Now()), "state survives a reopen, migrations run once")
}

// TestPlatformOpensFirst: a file that the platform's store creates gets
// the ledger's 1 KiB pages and WAL, exactly as if the ledger had created
// it, and the ledger then opens it.
func TestPlatformOpensFirst(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	mustOpen(t, path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	require.NoError(t, err)
	defer db.Close()
	var size int
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size))
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, 1024, size)
	assert.Equal(t, "wal", mode)
	ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, ls.Close())
}

// TestPlatform runs the platform end to end with the ledger and the
// platform state in one SQLite file.
func TestPlatform(t *testing.T) {
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		path := filepath.Join(t.TempDir(), "casimpay.db")
		ls, err := ledgersqlite.Open(context.Background(), path, ledgersqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { ls.Close() })
		return paytest.NewFixture(t, mustOpen(t, path), ls, paytest.Options{})
	})
}

// TestTwoProcesses: two platforms, each with its own connections to one
// SQLite file (as two processes would have), race approve against cancel;
// exactly one wins and the ledger agrees.
func TestTwoProcesses(t *testing.T) {
	f, p2 := twoPlatforms(t, func(st payflow.Store) payflow.Store { return st })
	s := paytest.NewShop(f, false)
	wins := map[string]int{}
	for range 8 {
		wins[paytest.RaceApproveCancel(t, s, p2)]++
	}
	t.Logf("outcomes: %v", wins)
}

// twoPlatforms returns a fixture whose platform keeps its state in one
// SQLite file, through the store that wrap returns, and a second platform
// on the same file with its own connections, ledger and store, as two
// processes would have, on the fixture's clock, verifier and key.
func twoPlatforms(t *testing.T, wrap func(payflow.Store) payflow.Store) (*paytest.Fixture, *payflow.Platform) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	ls1, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { ls1.Close() })
	f := paytest.NewFixture(t, wrap(mustOpen(t, path)), ls1, paytest.Options{})

	ls2, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { ls2.Close() })
	l2, err := ledger.New(ls2, ledger.Options{Now: f.Clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { l2.Close() })
	p2, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: l2, Store: mustOpen(t, path), Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	require.NoError(t, err)
	return f, p2
}

// losingStore is a Store that fails the next UpdatePayment from the
// state set in from (then cleared) with errLost, writing nothing, as a
// lost connection to the database would: the settlement under way stays
// recorded as it was.
type losingStore struct {
	payflow.Store
	mu   sync.Mutex
	from string
}

var errLost = errors.New("connection lost")

func (s *losingStore) lose(from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from = from
}

func (s *losingStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	s.mu.Lock()
	lose := s.from != "" && from == s.from
	if lose {
		s.from = ""
	}
	s.mu.Unlock()
	if lose {
		return errLost
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// TestSweepRacesRetry: a settlement whose record was lost (a capture left
// capturing, a consent left approving) is driven at once by the call sent
// again to one platform process and by the recovery sweep of another on
// the same SQLite file. Both succeed, the money moves once, and the call
// answers with the receipt that the store holds.
func TestSweepRacesRetry(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		manual bool
		from   string
	}{
		{"capture", true, "capturing"},
		{"consent", false, payflow.StateApproving},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st *losingStore
			f, p2 := twoPlatforms(t, func(s payflow.Store) payflow.Store { st = &losingStore{Store: s}; return st })
			s := paytest.NewShop(f, tt.manual)
			for i := range 5 {
				before := s.Balances("EUR")
				v, err := s.Create(paytest.Request(s.Session, "EUR", 100))
				require.NoError(t, err)
				amount := uint64(100)
				consent := s.Consent(v.ID)
				var call func() (*payflow.PaymentView, error)
				if tt.manual {
					amount -= uint64(i) // a partial capture but the first
					_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
					require.NoError(t, err)
					call = func() (*payflow.PaymentView, error) {
						return s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: amount})
					}
				} else {
					call = func() (*payflow.PaymentView, error) {
						return s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
					}
				}
				st.lose(tt.from)
				_, err = call()
				require.ErrorIs(t, err, errLost)
				f.Clock.Advance(payflow.DefaultRecoverAfter)
				f.RefreshCRLs()
				s.Seller.Login(record.RoleSeller)

				var wg sync.WaitGroup
				var got *payflow.PaymentView
				var callErr, sweepErr error
				wg.Add(2)
				go func() { defer wg.Done(); got, callErr = call() }()
				go func() { defer wg.Done(); _, sweepErr = p2.RecoverSweep(ctx, 0) }()
				wg.Wait()
				require.NoError(t, callErr)
				require.NoError(t, sweepErr)
				assert.Equal(t, payflow.StateCaptured, got.State)
				assert.Equal(t, amount, got.Captured)
				after := s.Balances("EUR")
				assert.Equal(t, before[0].Posted-amount, after[0].Posted, "charged once")
				assert.Equal(t, before[1].Posted+amount, after[1].Posted, "paid once")
				stored, err := f.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				assert.Equal(t, stored.Receipt, got.Receipt)
				assert.Equal(t, amount, f.VerifiedReceipt(t, got.Receipt).Amount)
			}
			require.NoError(t, f.Ledger.Verify(ctx))
		})
	}
}

// TestSharedWriteLock: the ledger's store and the payflow store on one
// file in one process take turns to write without meeting SQLite's file
// lock, so writes at once from both succeed even with a busy timeout of
// one millisecond.
func TestSharedWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{BusyTimeout: time.Millisecond})
	require.NoError(t, err)
	defer ls.Close()
	l, err := ledger.New(ls, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	s, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: time.Millisecond})
	require.NoError(t, err)
	defer s.Close()

	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if w%2 == 0 {
					id := ledger.IDFromUint64(uint64(w*each + i + 1))
					res, err := l.CreateAccounts(ctx, []ledger.Account{{ID: id, Ledger: 978, Code: 1}})
					if assert.NoError(t, err) {
						assert.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
					}
				} else {
					assert.NoError(t, s.Add(ctx, []byte(fmt.Sprint("nonce ", w, i)), time.Now().Add(time.Hour)))
				}
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w += 2 {
		for i := range each {
			require.NoError(t, s.Consume(ctx, []byte(fmt.Sprint("nonce ", w, i)), time.Now()))
		}
	}
}

// TestOpenTakesTurnsWithLedger: opening the store while a writer of the
// same process (the ledger's store) holds the file's write lock waits
// for the in-process lock, as every write of the store does, rather than
// failing once the busy timeout of one millisecond runs out.
func TestOpenTakesTurnsWithLedger(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	require.NoError(t, mustOpen(t, path).Close())

	done := sqlitewritetest.HoldWrite(t, path, 100*time.Millisecond)
	s, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: time.Millisecond})
	require.NoError(t, <-done)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestSellerCardsIndexed: the seller cards of a merchant are found
// through an index, not by reading every card.
func TestSellerCardsIndexed(t *testing.T) {
	db := readOnly(t)
	for _, q := range []string{
		`SELECT id FROM payflow_cards WHERE merchant_id = ? ORDER BY id`,
		`UPDATE payflow_cards SET merchant_id = '' WHERE merchant_id = ?`,
	} {
		assert.Contains(t, queryPlan(t, db, q, "m"), "INDEX payflow_cards_merchant", q)
	}
}

// TestPendingBySessionIndexed: the pending and approving requests of a
// session that a seller card's pairing proof cancels or marks are found
// through an index, not by reading every request.
func TestPendingBySessionIndexed(t *testing.T) {
	q := `UPDATE payflow_payments SET state = 'cancelled', version = version + 1, updated_at = ?, due_at = ?
		WHERE session_id = ? AND state IN ('pending', 'approving') AND expires_at > ?`
	assert.Contains(t, queryPlan(t, readOnly(t), q, 1, 1, []byte{1}, 1), "INDEX payflow_payments_pending_session")
}

// readOnly opens a new migrated database read-only.
func readOnly(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	require.NoError(t, mustOpen(t, path).Close())
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// queryPlan returns the details of the query plan of q (sqlitedb.QueryPlan).
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	plan, err := sqlitedb.QueryPlan(context.Background(), db, q, args...)
	require.NoError(t, err)
	return plan
}

// TestOpenNegativeOptions: a negative ReadConns or BusyTimeout is refused
// with ErrNegativeOption rather than read as the default.
func TestOpenNegativeOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	for _, o := range []sqlite.Options{{ReadConns: -1}, {BusyTimeout: -time.Second}} {
		s, err := sqlite.Open(context.Background(), path, o)
		if !assert.ErrorIs(t, err, sqlite.ErrNegativeOption, "%+v", o) {
			s.Close()
		}
	}
}
