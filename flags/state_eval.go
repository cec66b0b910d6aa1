package flags

// Evaluator answers the mode of many organizations against one State, with
// exactly the store provider's rules (override, allow-list, rollout,
// default). It is for listings such as the shadow rollout overview, not for
// the request path, which goes through the Decider.
type Evaluator struct {
	snap *snapshot
}

// NewEvaluator compiles st once for repeated ModeOf calls.
func NewEvaluator(st State) *Evaluator { return &Evaluator{snap: compile(st)} }

// ModeOf returns the mode of flag for the organization (id and slug; the
// slug matters only for allow-lists that name slugs). The kill switch is
// not applied: callers that need it read State.KillSwitch.
func (e *Evaluator) ModeOf(flag, orgID, orgSlug string) Mode {
	m, _, _ := e.snap.resolveMode(flag, orgID, orgSlug)
	return m
}
