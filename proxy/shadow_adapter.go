package proxy

import (
	"context"
	"net/http"

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
