// Package paytest is the test kit of package payflow: Run is the
// conformance suite that every payflow.Store passes (payflow/memory,
// payflow/sqlite, payflow/postgres), RunPlatform plays purchases end to
// end on a platform over each of those stores, and Fixture builds a
// complete platform (certificate hierarchy with fresh CRLs, ledger,
// settable clock) with virtual CA-SIM cards for end-to-end tests and
// benchmarks.
package paytest
