package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/casimpay/casimpay/payflow"
)

// catalogPlatform answers catalog and info calls; the other methods of
// API are not used by the example.
type catalogPlatform struct{ payflow.API }

func (catalogPlatform) Catalog(_ context.Context, token, merchantID string) (*payflow.Catalog, error) {
	if merchantID != "grocer" {
		return nil, fmt.Errorf("%w: merchant %q", payflow.ErrNotFound, merchantID)
	}
	return &payflow.Catalog{MerchantID: merchantID, Currency: "EUR", Items: []payflow.CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 120}}}, nil
}

// The handler serves an API over HTTP and the client calls it, with the
// platform's errors intact.
func ExampleNewHandler() {
	h, err := payflow.NewHandler(catalogPlatform{}, payflow.HandlerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer h.Close()              // once the server is closed: ends the tries to store replies
	srv := httptest.NewServer(h) // in production: payflow.NewServer(":8443", h).ListenAndServeTLS(…)
	defer srv.Close()

	c, err := payflow.NewClient(srv.URL, payflow.ClientOptions{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cat, err := c.Catalog(ctx, "token", "grocer")
	if err != nil {
		panic(err)
	}
	fmt.Println(cat.Currency, cat.Items[0].Name, cat.Items[0].UnitPrice)

	_, err = c.Catalog(ctx, "token", "bakery")
	fmt.Println(errors.Is(err, payflow.ErrNotFound))
	var e *payflow.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Status)
	}
	_, err = c.Catalog(ctx, "", "grocer")
	fmt.Println(errors.Is(err, payflow.ErrUnauthorized))
	// Output:
	// EUR Apple 120
	// true
	// not_found 404
	// true
}

// A seller names the requests of a session so that the shopper finds them.
func ExampleSessionRequestID() {
	session := payflow.ID{0x01, 0x02}
	fmt.Println(payflow.SessionRequestID(session, 0))
	fmt.Println(payflow.SessionRequestID(session, 1))
	// Output:
	// f94e4d3db139c16b4f9e2341a0e027e0
	// 4fd9f9a900f72f0ceb6c02c12fa2cde5
}
