package payflow_test

import (
	"context"

	"github.com/casimpay/casimpay/payflow"
)

// apiFault fails the calls of one API method that its plans pick: those
// that send picks fail without reaching the platform, and those that
// reply picks reach it and lose its reply, as a connection that drops
// after the call went out: the call fails with the plan's error once the
// platform made it (or refused it too, when refusals is set), or, when
// resend is set, is sent again and answered as the platform answers that.
// send keeps the calls made, reply those that reached the platform.
// Its zero value fails none.
type apiFault[C any] struct {
	send, reply      callFault[C]
	refusals, resend bool
}

// call answers the call c, which fn sends to the platform, as f's plans
// say.
func call[C, R any](f *apiFault[C], c C, fn func() (R, error)) (R, error) {
	var none R
	if err := f.send.strike(c); err != nil {
		return none, err
	}
	r, err := fn()
	lost := f.reply.strike(c)
	switch {
	case lost == nil || err != nil && !f.refusals:
		return r, err
	case f.resend:
		return fn()
	}
	return none, lost
}

// faultAPI is an API whose calls of the methods below fail as the fault
// of that method says, as a dropped connection or a platform that refuses
// them fails them. It is safe for concurrent use while its API is not
// changed.
type faultAPI struct {
	payflow.API
	login   apiFault[*payflow.LoginRequest]
	resolve apiFault[*payflow.ResolveRequest]
	pair    apiFault[*payflow.PairRequest]
	create  apiFault[*payflow.CreateRequest]
	payment apiFault[payflow.ID]
	approve apiFault[*payflow.ApproveRequest]
	capture apiFault[*payflow.CaptureRequest]
	refund  apiFault[*payflow.RefundRequest]
}

func (a *faultAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	return call(&a.login, req, func() (*payflow.LoginResponse, error) { return a.API.Login(ctx, req) })
}

func (a *faultAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	return call(&a.resolve, req, func() (*payflow.ResolveResponse, error) { return a.API.Resolve(ctx, token, req) })
}

func (a *faultAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	return call(&a.pair, req, func() (*payflow.SessionView, error) { return a.API.Pair(ctx, req) })
}

func (a *faultAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	return call(&a.create, req, func() (*payflow.PaymentView, error) { return a.API.CreateRequest(ctx, req) })
}

func (a *faultAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return call(&a.payment, id, func() (*payflow.PaymentView, error) { return a.API.Payment(ctx, token, id) })
}

func (a *faultAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return call(&a.approve, req, func() (*payflow.PaymentView, error) { return a.API.Approve(ctx, req) })
}

func (a *faultAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	return call(&a.capture, req, func() (*payflow.PaymentView, error) { return a.API.Capture(ctx, token, req) })
}

func (a *faultAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	return call(&a.refund, req, func() (*payflow.RefundView, error) { return a.API.Refund(ctx, req) })
}
