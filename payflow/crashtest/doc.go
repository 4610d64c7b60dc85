// Package crashtest holds the reliability tests of the platform that need
// more than one process: a platform on SQLite killed with SIGKILL under
// load (at times while its requests and holds expire) and recovered, and
// several platform processes serving the same phones from one PostgreSQL
// database or one SQLite file. The package has no API; its tests
// re-execute their own test binary as the platform processes.
//
//	go test ./payflow/crashtest/ -run TestCrashRecovery -crash.kills 100
//	CASIMPAY_POSTGRES_DSN=postgres://… go test ./payflow/crashtest/ -run TestPlatformProcesses
package crashtest
