package memory

import "context"

// rwLock is the lock of a Store: held by one Update, or shared by Views,
// as a sync.RWMutex is, but a wait for it ends when the caller's context
// ends. A writer that waits keeps readers that come after it waiting, so
// that a stream of Views does not hold an Update off. The zero value is not
// usable: call newRWLock.
type rwLock struct {
	// turn is held by a writer from the start of its wait to its unlock;
	// a reader takes it and gives it back before it joins the readers.
	turn chan struct{}
	// held is held by the writer that holds the lock, or by the readers
	// together, taken by the first and given back by the last.
	held chan struct{}
	// readers holds the number of readers while they hold held.
	readers chan int
}

func newRWLock() rwLock {
	return rwLock{turn: make(chan struct{}, 1), held: make(chan struct{}, 1), readers: make(chan int, 1)}
}

// take takes the slot of ch, or fails with ctx's error when ctx ends
// first.
func take(ctx context.Context, ch chan struct{}) error {
	select {
	case ch <- struct{}{}:
		return nil
	default:
	}
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lock takes the lock for writing. When ctx ends before the lock is taken,
// or as it is, lock fails with ctx's error and the lock is not held.
func (l *rwLock) lock(ctx context.Context) error {
	if err := take(ctx, l.turn); err != nil {
		return err
	}
	if err := take(ctx, l.held); err != nil {
		<-l.turn
		return err
	}
	if err := ctx.Err(); err != nil {
		l.unlock()
		return err
	}
	return nil
}

// unlock releases the lock taken by lock.
func (l *rwLock) unlock() {
	<-l.held
	<-l.turn
}

// rlock takes the lock for reading. When ctx ends before the lock is
// taken, or as it is, rlock fails with ctx's error and the lock is not
// held.
func (l *rwLock) rlock(ctx context.Context) error {
	if err := take(ctx, l.turn); err != nil {
		return err
	}
	<-l.turn
	var n int
	select {
	case l.held <- struct{}{}: // the first reader
	case n = <-l.readers:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.readers <- n + 1
	if err := ctx.Err(); err != nil {
		l.runlock()
		return err
	}
	return nil
}

// runlock releases the lock taken by rlock.
func (l *rwLock) runlock() {
	if n := <-l.readers; n > 1 {
		l.readers <- n - 1
	} else {
		<-l.held
	}
}
