package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
)

// A payment request changes state only from the state and version its
// writer read: the second of two writers loses.
func ExampleStore_UpdatePayment() {
	ctx := context.Background()
	s := memory.New()
	// The seller's card-signed request is accepted with the request.
	a := &payflow.Acceptance{CardID: "8900000000000000002", Counter: 1,
		Insert: &payflow.PaymentRecord{ID: payflow.ID{1}, State: payflow.StatePending, ExpiresAt: time.Now().Add(time.Minute),
			SellerCardID: "8900000000000000002", PayerCardID: "8900000000000000001",
			Request: []byte("seller-signed request"), RequestHash: []byte("its hash")}}
	if err := s.Accept(ctx, a); err != nil {
		fmt.Println(err)
		return
	}
	approve, cancel := *a.Insert, *a.Insert
	approve.State = payflow.StateCaptured
	cancel.State = payflow.StateCancelled
	fmt.Println(s.UpdatePayment(ctx, &approve, payflow.StatePending))
	fmt.Println(errors.Is(s.UpdatePayment(ctx, &cancel, payflow.StatePending), payflow.ErrConflict))
	// Output:
	// <nil>
	// true
}
