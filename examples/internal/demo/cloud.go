package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/casimpay/casimpay/ledger"
	ledgerpg "github.com/casimpay/casimpay/ledger/postgres"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	payflowpg "github.com/casimpay/casimpay/payflow/postgres"
	payflowsqlite "github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
)

// DatabaseFile is the SQLite file of a data folder: the ledger and the
// platform state in one database.
const DatabaseFile = "casimpay.db"

// ErrNoDataDir is the error of OpenCloud without CloudOptions.Dir.
var ErrNoDataDir = errors.New("demo: no data folder")

// CloudOptions configure OpenCloud.
type CloudOptions struct {
	// Dir is the data folder: the demo CA, the card state files and, unless
	// PostgresDSN is set, the SQLite database. It is created if needed.
	Dir string
	// PostgresDSN, when set, keeps the ledger and the platform state in
	// PostgreSQL instead (the schema of the DSN's search_path).
	PostgresDSN string
	// Platform is copied into the platform's options; its Ledger, Store,
	// Verifier, Key and Chain are set by OpenCloud.
	Platform payflow.PlatformOptions
}

// Cloud is a platform with its stores, ledger and certificate authority.
type Cloud struct {
	Platform  *payflow.Platform
	Ledger    *ledger.Ledger
	Store     payflow.Store
	Authority *Authority
	Verifier  *pki.Verifier
	// Database names where the state lives, for the screen.
	Database string

	now     func() time.Time
	closers []func() error
}

// OpenCloud opens (or creates) the demo cloud of a data folder. It fails
// with ErrNoDataDir when opts.Dir is empty, and with ErrAuthorityMissing
// when the folder holds the cards or the database of an earlier setup but
// not its demo CA (LoadAuthority), or one that cannot be written, as
// LoadAuthority says; a SQLite database file that cannot be written is
// refused likewise, with an error that names it and gives the system's
// reason. With opts.PostgresDSN, the database is reached first: a DSN
// that does not parse or a server that does not answer fails before the
// data folder, and the demo CA in it, are made.
func OpenCloud(ctx context.Context, opts CloudOptions) (_ *Cloud, err error) {
	if opts.Dir == "" {
		return nil, ErrNoDataDir
	}
	c := &Cloud{now: opts.Platform.Now}
	if c.now == nil {
		c.now = time.Now
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	var ls ledger.Store
	if opts.PostgresDSN != "" {
		l, err := ledgerpg.Open(ctx, opts.PostgresDSN, ledgerpg.Options{})
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, l.Close)
		s, err := payflowpg.Open(ctx, opts.PostgresDSN, payflowpg.Options{})
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, s.Close)
		ls, c.Store, c.Database = l, s, "PostgreSQL"
	}
	if c.Authority, err = LoadAuthority(ctx, opts.Dir); err != nil {
		return nil, err
	}
	if c.Verifier, err = c.Authority.CardVerifier(c.now); err != nil {
		return nil, err
	}
	if opts.PostgresDSN == "" {
		path := filepath.Join(opts.Dir, DatabaseFile)
		if err := checkWritableFile(path, "the database "+path+" of the data folder"); err != nil {
			return nil, err
		}
		l, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, l.Close)
		s, err := payflowsqlite.Open(ctx, path, payflowsqlite.Options{})
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, s.Close)
		ls, c.Store, c.Database = l, s, "SQLite "+path
	}
	if c.Ledger, err = ledger.New(ls, ledger.Options{Now: opts.Platform.Now}); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.Ledger.Close)
	po := opts.Platform
	po.Ledger, po.Store, po.Verifier = c.Ledger, c.Store, c.Verifier
	po.Key, po.Chain = c.Authority.PlatformKey, c.Authority.PlatformChain
	if c.Platform, err = payflow.NewPlatform(po); err != nil {
		return nil, err
	}
	return c, nil
}

// checkWritableFile makes sure that the file path, what, can be written
// where it is a file: it opens it for writing, changing nothing. One that
// cannot be written is an error that names it and says why
// (cannotWrite); what is not a file, or is missing, is left to the store
// that opens it.
func checkWritableFile(path, what string) error {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", cannotWrite(what, err))
	}
	return f.Close()
}

// RefreshCRLs renews the CRLs that the platform's verifier needs; a cloud
// that runs for hours calls it every hour or so.
func (c *Cloud) RefreshCRLs() error { return c.Authority.RefreshCRLs(c.Verifier, c.now) }

// Close closes the ledger and the stores, last opened first.
func (c *Cloud) Close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	c.closers = nil
	return errors.Join(errs...)
}
