package ledger

// Queued returns how many CreateTransfers requests wait in l's queue, not
// yet taken by the batcher.
func Queued(l *Ledger) int { return len(l.reqs) }

// QueueCap is how many requests the batcher's queue holds.
func QueueCap(l *Ledger) int { return cap(l.reqs) }
