package ledger

// Queued returns how many CreateTransfers requests wait in l's queue, not
// yet taken by the batcher.
func Queued(l *Ledger) int { return len(l.reqs) }

// QueueCap is how many requests the batcher's queue holds.
func QueueCap(l *Ledger) int { return cap(l.reqs) }

// SetEntering makes f run in each call that uses the store outside the
// batcher once it has found l open, before it is counted among the calls
// that Close waits for.
func SetEntering(l *Ledger, f func()) { l.calls.Entering = f }

// Closing returns the channel that Close closes once it refuses the
// calls that use the store outside the batcher, before it waits for the
// batcher and the calls under way.
func Closing(l *Ledger) <-chan struct{} { return l.quit }

// Needed returns how many IDs l's batcher keeps as those that its last
// batch named twice. Call it when no CreateTransfers call is under way.
func Needed(l *Ledger) int { return len(l.work.needed) }

// SetQueued makes f run in each CreateTransfers call once its request is
// queued, before the call waits for the reply, with the channel that the
// reply closes.
func SetQueued(l *Ledger, f func(done <-chan struct{})) { l.queued = f }
