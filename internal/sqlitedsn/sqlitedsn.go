// Package sqlitedsn builds the modernc.org/sqlite connection strings of
// the module's SQLite stores, which share one database file.
package sqlitedsn

import (
	"net/url"
	"path/filepath"
	"strconv"
	"time"
)

// BusyTimeout returns the pragma that makes a connection wait up to d
// (5 seconds when d is not positive) for a lock another connection holds.
func BusyTimeout(d time.Duration) string {
	if d <= 0 {
		d = 5 * time.Second
	}
	return "busy_timeout(" + strconv.FormatInt(d.Milliseconds(), 10) + ")"
}

// DSN returns the connection string for the database file at path (made
// absolute) that runs pragmas, in order, on every new connection. A
// read-only connection also gets query_only(1); a writer starts its
// transactions with BEGIN IMMEDIATE, so that it takes the write lock
// before it reads.
func DSN(path string, readOnly bool, pragmas ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}
