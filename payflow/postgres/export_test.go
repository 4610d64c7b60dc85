package postgres

import "database/sql"

// Pool returns the pool of s.
func Pool(s *Store) *sql.DB { return s.db }
