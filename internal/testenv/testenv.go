// Package testenv gates the integration tests that need services outside the
// Go toolchain: a PostgreSQL server and a PC/SC stack (pcscd, the vsmartcard
// virtual reader and opensc-tool).
//
// A gated test calls PostgresDSN or PCSC first; when the enabling environment
// variable is unset or empty (PCSCEnv: other than 1) the test is skipped with
// a message that starts with SkipPrefix, which .ci/run looks for so that CI
// fails when an integration test did not run. Tests that need another program
// outside the toolchain (pki's interoperability tests need the openssl
// command) skip with SkipPrefix too when it is missing.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables that enable the integration tests.
const (
	// PostgresEnv holds a PostgreSQL connection string, for example
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	PostgresEnv = "CASIMPAY_POSTGRES_DSN"
	// PCSCEnv, set to 1, runs the tests that drive the virtual card through
	// pcscd and opensc-tool.
	PCSCEnv = "CASIMPAY_PCSC"
)

// SkipPrefix starts the message of every integration test skipped because
// its service is not configured.
const SkipPrefix = "integration test skipped:"

// PostgresDSN returns the DSN of the test PostgreSQL server, or skips t when
// PostgresEnv is unset or empty.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skipf("%s set %s to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", SkipPrefix, PostgresEnv)
	}
	return dsn
}

// PostgresSchema creates a fresh schema on the test server and returns a DSN
// whose search_path is that schema, so that tests of several packages can run
// at once against one database. The schema is dropped when t ends. It skips t
// when PostgresEnv is unset or empty, and fails it when it cannot connect or
// create the schema, or, as t ends, drop it.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// Key/value DSN form.
		return fmt.Sprintf("%s search_path=%s", dsn, schema)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PCSC skips t unless PCSCEnv is set to 1.
func PCSC(t testing.TB) {
	t.Helper()
	if os.Getenv(PCSCEnv) != "1" {
		t.Skipf("%s set %s=1 with pcscd, vsmartcard-vpcd and opensc-tool running", SkipPrefix, PCSCEnv)
	}
}

// SilentServer listens on a loopback port, accepts connections and never
// answers them, as a server that hangs does, until t ends, when it closes
// them and stops listening; it returns its address, a host and port.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted, never answered
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		for _, conn := range held {
			conn.Close()
		}
	})
	return ln.Addr().String()
}
