package proxy

import (
	"context"

	"github.com/7cycles-ai/strangler/flags"
)

// FlagDecision is the mode decision of package flags (*flags.Decider): the
// flag route.<route> through OpenFeature, behind the kill switch
// strangler-enabled. It never fails open — on any error the mode is legacy,
// already counted and logged by the decider.
type FlagDecision interface {
	Decide(ctx context.Context, in flags.Request) (flags.Mode, error)
}

var _ FlagDecision = (*flags.Decider)(nil)

// FlagsModeDecider is the ModeDecider of the proxy over a FlagDecision
// (SPEC §5 step 5, §8). The evaluation context is built from the request:
// targetingKey = organization id, attributes org (slug), project, user,
// route and method; an anonymous request without a resolved tenant is
// evaluated without organization (the flags package then serves legacy,
// counted as TARGETING_KEY_MISSING by the store provider — with tenancy in
// place the default organization stands for anonymous callers). The kill
// switch is the decider's: off, every decision is legacy, so nothing is
// served by new and nothing is shadowed.
//
// It allocates nothing and holds no state of its own; with the flags store
// provider a decision is served from memory (see BenchmarkModeDecision).
type FlagsModeDecider struct {
	d FlagDecision
}

var _ ModeDecider = (*FlagsModeDecider)(nil)

// NewFlagsModeDecider returns a ModeDecider over d.
func NewFlagsModeDecider(d FlagDecision) *FlagsModeDecider {
	return &FlagsModeDecider{d: d}
}

// Decide implements ModeDecider. A request without an organization (a
// route with auth: none, or no tenant resolved) is legacy without asking
// the flags: modes are per organization, the new service needs a tenant,
// and evaluating without a targeting key would only count a fallback on
// every such request.
func (f *FlagsModeDecider) Decide(ctx context.Context, info RequestInfo) Mode {
	if info.Tenant == nil || info.Tenant.OrgID == "" {
		return ModeLegacy
	}
	in := flags.Request{Method: info.Method}
	if info.Route != nil {
		in.Route = info.Route.Name
	}
	if t := info.Tenant; t != nil {
		in.OrgID, in.OrgSlug, in.ProjectID, in.UserID = t.OrgID, t.OrgSlug, t.ProjectID, t.UserID
	}
	// The error is the decider's to count and log; the mode is legacy then.
	m, _ := f.d.Decide(ctx, in)
	return modeOfFlag(m)
}

// modeOfFlag maps a flags.Mode to the proxy's Mode. A value outside the four
// maps to "", which the pipeline serves as legacy and counts
// (reason invalid_mode).
func modeOfFlag(m flags.Mode) Mode {
	switch m {
	case flags.ModeLegacy:
		return ModeLegacy
	case flags.ModeShadow:
		return ModeShadow
	case flags.ModeCanary:
		return ModeCanary
	case flags.ModeNew:
		return ModeNew
	}
	return ""
}
