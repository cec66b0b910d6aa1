package flags

// The JSON documents of the admin API (SPEC §11), shared by the handler
// and AdminClient.

// FlagView is one mode flag as ops see it.
type FlagView struct {
	Key string `json:"key"`
	// Rule is null when the flag has no rule (every org without an override
	// is legacy).
	Rule *Rule `json:"rule"`
	// OverrideCount is the number of per-org overrides.
	OverrideCount int `json:"override_count"`
	// Overrides are listed by GET /admin/api/flags/{key} only.
	Overrides []Override `json:"overrides,omitempty"`
}

// FlagList is GET /admin/api/flags.
type FlagList struct {
	KillSwitch KillSwitch `json:"kill_switch"`
	Flags      []FlagView `json:"flags"`
}

// OverrideRequest is the body of PUT /admin/api/flags/{key}/orgs/{org}.
type OverrideRequest struct {
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
}

// OverrideChange answers PUT and DELETE of an override.
type OverrideChange struct {
	// Override is the new override (null after DELETE).
	Override *Override `json:"override"`
	// Before is the previous override, null if there was none.
	Before *Override `json:"before"`
}

// RuleRequest is the body of PUT /admin/api/flags/{key}. Allow-list
// organizations may be ids or slugs; they are resolved and stored as ids.
type RuleRequest struct {
	DefaultVariant string             `json:"default_variant"`
	Allow          []AllowListRequest `json:"allow,omitempty"`
	Rollout        *RolloutRequest    `json:"rollout,omitempty"`
	Reason         string             `json:"reason"`
}

// AllowListRequest is one allow-list of a RuleRequest.
type AllowListRequest struct {
	Variant string   `json:"variant"`
	Orgs    []string `json:"orgs"`
}

// RolloutRequest is the rollout of a RuleRequest.
type RolloutRequest struct {
	Variant string  `json:"variant"`
	Percent float64 `json:"percent"`
}

// RuleChange answers PUT and DELETE of a rule.
type RuleChange struct {
	Rule   *Rule `json:"rule"`
	Before *Rule `json:"before"`
}

// ReasonRequest is the body of a DELETE (the reason may also be given as
// the query parameter "reason").
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// HistoryPage is GET /admin/api/flags/{key}/history.
type HistoryPage struct {
	Entries []HistoryEntry `json:"entries"`
	// NextBefore, when not zero, fetches the next (older) page as
	// ?before=NextBefore.
	NextBefore int64 `json:"next_before,omitempty"`
}

// KillSwitchRequest is the body of PUT /admin/api/kill-switch.
type KillSwitchRequest struct {
	// Enabled is required: false sends every request to legacy.
	Enabled *bool  `json:"enabled"`
	Reason  string `json:"reason"`
}

// KillSwitchChange answers PUT /admin/api/kill-switch.
type KillSwitchChange struct {
	KillSwitch KillSwitch `json:"kill_switch"`
	Before     KillSwitch `json:"before"`
}

// ErrorBody is the error document of SPEC §5.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}
