package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/casimpay/casimpay/payflow"
)

// RotationTries is how many times SelectEachOther has two phones select
// each other again when their selections opened two sessions.
const RotationTries = 3

// ErrTwoSessions is the error of SelectEachOther when the two phones'
// selections of each other still open two sessions after they selected
// each other again RotationTries times (RotationTries+1 tries in all).
var ErrTwoSessions = errors.New("demo: the phones' selections of each other open two sessions")

// SelectEachOther has phones a and b, which heard each other's adverts,
// select each other: both has each tap the other and confirm it (Choose
// and Confirm, or Select) and returns the two confirmations, and
// SelectEachOther returns nil once they name one session. An EID epoch
// that ended after the phones heard each other, or between their
// selections, has each name its own EID of the new epoch and the other's
// of the one before, in a session of its own (PROTOCOL.md §6.1), which
// the other never confirms: while the two confirmations name two
// sessions, both screens say so, hear has the phones hear each other's
// new adverts (and read their service queues again, unless both does:
// hear may be nil), and both has them select each other again, up to
// RotationTries times; then it fails with ErrTwoSessions. An error of
// both, or of hear, it returns as it is.
func SelectEachOther(a, b *Phone, both func() (ca, cb *payflow.Confirmation, err error), hear func() error) error {
	for try := 0; ; try++ {
		ca, cb, err := both()
		if err != nil || ca.SessionID == cb.SessionID {
			return err
		}
		if try == RotationTries {
			return fmt.Errorf("%w (sessions %s and %s, %d tries)", ErrTwoSessions, Short(ca.SessionID), Short(cb.SessionID), try+1)
		}
		for _, ph := range []*Phone{a, b} {
			ph.Screen.Printf("The other screen shows another pairing code: selecting again after the EIDs changed")
		}
		if hear != nil {
			if err := hear(); err != nil {
				return err
			}
		}
	}
}

// ChooseEachOther has phone a tap the entry named aPick in its service
// queue aQueue and phone b the one named bPick in bQueue (Choose), then
// both confirm their picks, a first (Confirm), and returns the two
// confirmations: the both of SelectEachOther for two phones whose users
// tap each other.
func ChooseEachOther(ctx context.Context, a *Phone, aQueue []payflow.QueueEntry, aPick string,
	b *Phone, bQueue []payflow.QueueEntry, bPick string) (ca, cb *payflow.Confirmation, err error) {
	ea, err := a.Choose(aQueue, aPick)
	if err != nil {
		return nil, nil, err
	}
	eb, err := b.Choose(bQueue, bPick)
	if err != nil {
		return nil, nil, err
	}
	if ca, err = a.Confirm(ctx, ea); err != nil {
		return nil, nil, err
	}
	cb, err = b.Confirm(ctx, eb)
	return ca, cb, err
}
