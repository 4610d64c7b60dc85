package paytest_test

import (
	"fmt"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// Request builds the record a seller card signs for a session.
func ExampleRequest() {
	s := &payflow.SessionView{ID: payflow.ID{7}, ShopperCardID: "8944500102198304826", MerchantID: "grocer-1"}
	r := paytest.Request(s, "EUR", 690)
	fmt.Println(r.PayerCardID, r.MerchantID, r.Amount, r.Currency, len(r.RequestID))
	// Output: 8944500102198304826 grocer-1 690 EUR 16
}
