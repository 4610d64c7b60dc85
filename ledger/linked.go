package ledger

// chainResults are the results of an event type that linked chains give:
// success, a chain left open at the end of its request, and an event
// failed because another event of its chain failed.
type chainResults[R comparable] struct{ created, open, failed R }

// chainHooks let applyLinked undo the events of a chain that fails. Each
// may be nil.
type chainHooks struct {
	open     func() // a chain starts: remember the state to roll back to
	rollback func() // an event of the chain failed: undo the chain's events so far
	close    func() // the chain ends, created or rolled back
}

// applyLinked sets results[i] for every event i with TigerBeetle's linked
// chains. ends lists the exclusive end index of each request (several when
// the batcher merged requests): a chain never crosses one. linked reports
// whether event i is linked with the next; apply applies event i and
// returns its result.
//
// A chain is an event flagged linked and the events after it up to the
// first one not flagged (inclusive). A linked event that is the last of
// its request gets res.open, without being applied. Once an event of a
// chain fails, hooks.rollback undoes the chain's events applied so far,
// and every other event of the chain gets res.failed (those after it
// without being applied): a chain is created all or nothing.
func applyLinked[R comparable](results []R, ends []int, res chainResults[R], hooks chainHooks,
	linked func(i int) bool, apply func(i int) R) {
	chain := -1 // index of the first event of the open chain, or -1
	broken := false
	end := 0
	for i := range results {
		for ends[end] <= i {
			end++
		}
		lastInRequest := i == ends[end]-1
		link := linked(i)
		if link && chain < 0 {
			chain, broken = i, false
			if hooks.open != nil {
				hooks.open()
			}
		}
		var r R
		switch { // TigerBeetle's order: an open chain first, then a broken one
		case link && lastInRequest:
			r = res.open
		case chain >= 0 && broken:
			r = res.failed
		default:
			r = apply(i)
		}
		results[i] = r
		if r != res.created && chain >= 0 && !broken {
			broken = true
			for j := chain; j < i; j++ {
				results[j] = res.failed
			}
			if hooks.rollback != nil {
				hooks.rollback()
			}
		}
		if chain >= 0 && (!link || lastInRequest) {
			chain = -1
			if hooks.close != nil {
				hooks.close()
			}
		}
	}
}
