package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/7cycles-ai/strangler/shadow"
)

// EngineShadower is the Shadower over the comparison engine of package
// shadow. Begin asks the engine whether to shadow (the route's sample_rate
// and unsafe_methods; false once the engine is shutting down) and starts a
// shadow.Tap, which tees the request body and the serving response into
// pooled buffers capped at shadow.max_body_bytes (over the cap: not
// compared, counted as dropped too_large). Done calls Tap.Finish: a
// non-blocking Submit into the engine's bounded queue (full: dropped,
// counted). Workers then replay the request on the other backend with the
// headers the serving backend was sent — tenant headers and assertion
// included — plus X-Shadow-Request: true, and compare.
//
// The engine must be built with the same routes and backend URLs as the
// proxy, started (Engine.Start) before traffic, and shut down after
// Server.Serve has returned: requests still in flight during the drain hand
// over their exchange when they end (after Shutdown they are counted as
// dropped, reason shutdown).
type EngineShadower struct {
	e *shadow.Engine
}

var _ Shadower = (*EngineShadower)(nil)

// NewEngineShadower returns a Shadower over e.
func NewEngineShadower(e *shadow.Engine) *EngineShadower {
	return &EngineShadower{e: e}
}

// Begin implements Shadower.
func (s *EngineShadower) Begin(_ context.Context, r *http.Request, req ShadowRequest) ShadowTap {
	route := req.Route.Name
	if !s.e.Wants(route, r.Method) {
		return nil
	}
	org := ""
	if req.Tenant != nil {
		org = req.Tenant.OrgID
	}
	return engineTap{s.e.Tap(r, route, org, shadowBackend(req.Serving))}
}

// engineTap adapts *shadow.Tap to ShadowTap. It holds only the pointer, so
// storing it in the interface does not allocate.
type engineTap struct{ t *shadow.Tap }

var _ ShadowTap = engineTap{}

// Response implements ShadowTap.
func (e engineTap) Response(resp *http.Response) { e.t.CaptureResponse(resp) }

// Fallback implements ShadowTap.
func (e engineTap) Fallback(serving Backend) { e.t.SetServing(shadowBackend(serving)) }

// Done implements ShadowTap.
func (e engineTap) Done() { e.t.Finish() }

func shadowBackend(b Backend) shadow.Backend {
	if b == BackendNew {
		return shadow.BackendNew
	}
	return shadow.BackendLegacy
}

// AssertionRefreshAfter is how long after the client was served a shadow
// copy's X-Tenant-Assertion is re-signed: well inside its 60 s life, so a
// copy never reaches the other backend expired, and later than most copies
// wait, so most are sent with the original (a signature costs tens of µs).
const AssertionRefreshAfter = 20 * time.Second

// RefreshAssertionHeader returns the shadow engine's ReplayHeaders hook: a
// copy that waited AssertionRefreshAfter or more gets its
// X-Tenant-Assertion re-signed by refresh (tenancy.AuthStack's
// RefreshAssertion, which re-signs only this issuer's own assertions).
func RefreshAssertionHeader(refresh func(context.Context, string) (string, error)) func(context.Context, http.Header, time.Duration) error {
	return func(ctx context.Context, h http.Header, queued time.Duration) error {
		tok := h.Get(headerTenantAssertion)
		if tok == "" || queued < AssertionRefreshAfter {
			return nil
		}
		fresh, err := refresh(ctx, tok)
		if err != nil {
			return fmt.Errorf("refresh %s: %w", headerTenantAssertion, err)
		}
		h.Set(headerTenantAssertion, fresh)
		return nil
	}
}
