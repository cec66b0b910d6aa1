package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// KillSwitchFlag is the boolean flag of the global kill switch (SPEC §8):
// true (the default) lets the route flags decide, false sends every request
// to legacy and stops shadowing.
const KillSwitchFlag = "strangler-enabled"

// RouteFlagPrefix prefixes the route group name in a route flag key:
// the mode of route group "qa" is flag "route.qa".
const RouteFlagPrefix = "route."

// Sentinel errors of the Store, checked with errors.Is.
var (
	// ErrNotFound: the rule or override does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input breaks a rule of the data model; the wrapped
	// message says which.
	ErrInvalid = errors.New("invalid")
)

// Limits of the data model; they keep one bad request from bloating the
// in-memory snapshot every replica serves from.
const (
	maxFlagKeyLen   = 128
	maxOrgIDLen     = 128
	maxReasonLen    = 1000
	maxActorLen     = 200
	maxAllowOrgs    = 10000
	maxHistoryLimit = 1000
	// DefaultHistoryLimit is the page size of History when none is given.
	DefaultHistoryLimit = 100
)

// Rule is the per-flag rule of the store provider: every organization
// without an override gets, in order, the variant of the first allow-list
// that names it, the rollout variant if it falls in the rollout, else the
// default variant.
type Rule struct {
	// Flag is the flag key, e.g. "route.qa".
	Flag string `json:"flag"`
	// DefaultVariant serves organizations matched by nothing else.
	DefaultVariant Mode `json:"default_variant"`
	// Allow lists organizations (ids or slugs) pinned to a variant. An
	// organization may appear in one list only.
	Allow []AllowList `json:"allow,omitempty"`
	// Rollout sends a sticky percentage of organizations to a variant.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Actor and UpdatedAt record the last change; set by the store.
	Actor     string    `json:"actor,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// AllowList pins organizations to a variant.
type AllowList struct {
	// Variant is served to the listed organizations.
	Variant Mode `json:"variant"`
	// Orgs are organization ids or slugs.
	Orgs []string `json:"orgs"`
}

// Rollout is a sticky percentage rollout. An organization is in the rollout
// when RolloutBucket(flag, orgID) < Percent×100, so raising the percentage
// only ever adds organizations and never reshuffles those already in.
type Rollout struct {
	// Variant is served to organizations in the rollout.
	Variant Mode `json:"variant"`
	// Percent is in [0, 100] with at most two decimals (basis points).
	Percent float64 `json:"percent"`
}

// basisPoints returns Percent in hundredths of a percent (0..10000).
func (r Rollout) basisPoints() uint32 { return uint32(math.Round(r.Percent * 100)) }

// Override pins one organization's variant of one flag; it wins over the
// rule.
type Override struct {
	Flag  string `json:"flag"`
	OrgID string `json:"org_id"`
	// OrgSlug is the organization's slug when the override was set; a
	// display hint only, matching is by OrgID.
	OrgSlug string `json:"org_slug,omitempty"`
	Variant Mode   `json:"variant"`
	// Reason, Actor and UpdatedAt record the last change; Actor and
	// UpdatedAt are set by the store.
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// KillSwitch is the global kill switch; its zero value is not meaningful,
// a store without a recorded state reports Enabled true.
type KillSwitch struct {
	// Enabled false sends every request to legacy.
	Enabled   bool      `json:"enabled"`
	Reason    string    `json:"reason,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// State is everything the store provider serves from memory.
type State struct {
	Rules      []Rule
	Overrides  []Override
	KillSwitch KillSwitch
}

// Audit is who made a change and why; every mutation records it in the
// history in the same transaction as the change.
type Audit struct {
	// Actor identifies the operator (admin token name or user email).
	Actor string
	// Reason is required: "pilot", "rollback after 5xx spike".
	Reason string
}

// History actions.
const (
	ActionOverrideSet   = "override.set"
	ActionOverrideUnset = "override.unset"
	ActionRuleSet       = "rule.set"
	ActionRuleDelete    = "rule.delete"
	ActionKillSwitchSet = "kill_switch.set"
)

// HistoryEntry is one audited change.
type HistoryEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Flag   string    `json:"flag"`
	OrgID  string    `json:"org_id,omitempty"`
	// OrgSlug is the display hint recorded with the change.
	OrgSlug string `json:"org_slug,omitempty"`
	// Before and After are JSON documents (null when absent): an override
	// as {"variant":..}, a rule as the Rule, the kill switch as
	// {"enabled":..}.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Reason string          `json:"reason"`
}

// HistoryFilter selects history entries, newest first.
type HistoryFilter struct {
	// Flag, when set, keeps the entries of that flag.
	Flag string
	// OrgID, when set, keeps the entries of that organization.
	OrgID string
	// Limit caps the page (default DefaultHistoryLimit, at most 1000).
	Limit int
	// BeforeID pages backwards: only entries with ID < BeforeID.
	BeforeID int64
}

// StoreEventKind says what a StoreEvent reports.
type StoreEventKind uint8

const (
	// StoreConnected: the change feed is (re)connected; anything may have
	// changed meanwhile, so the consumer reloads everything.
	StoreConnected StoreEventKind = iota + 1
	// StoreChanged: something changed; Flags names the flags if known.
	StoreChanged
	// StoreDisconnected: the change feed is lost; the consumer serves what
	// it has and reports itself stale until StoreConnected.
	StoreDisconnected
)

func (k StoreEventKind) String() string {
	switch k {
	case StoreConnected:
		return "connected"
	case StoreChanged:
		return "changed"
	case StoreDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// StoreEvent is one item of a Store's change feed.
type StoreEvent struct {
	Kind StoreEventKind
	// Flags are the changed flag keys (StoreChanged), possibly empty.
	Flags []string
	// Err is the cause of a StoreDisconnected.
	Err error
}

// Store holds flag rules, per-org overrides, the kill switch and the
// history of changes. Implementations: MemoryStore (one process) and
// PostgresStore (shared by replicas). Both pass flagstest.RunStoreTests.
//
// Reads here are for the admin API and for (re)loading the provider's
// snapshot; the request path never calls a Store.
type Store interface {
	// Load returns the whole state, consistently (one snapshot).
	Load(ctx context.Context) (State, error)
	// Rule returns the rule of flag, or ErrNotFound.
	Rule(ctx context.Context, flag string) (Rule, error)
	// Overrides returns the overrides of flag ("" for all), sorted by flag
	// then organization id.
	Overrides(ctx context.Context, flag string) ([]Override, error)
	// SetRule creates or replaces a rule; before is nil if there was none.
	SetRule(ctx context.Context, r Rule, a Audit) (before *Rule, err error)
	// DeleteRule removes a rule, or returns ErrNotFound.
	DeleteRule(ctx context.Context, flag string, a Audit) (before Rule, err error)
	// SetOverride creates or replaces an override; before is nil if there
	// was none. o.Reason is ignored in favour of a.Reason.
	SetOverride(ctx context.Context, o Override, a Audit) (before *Override, err error)
	// DeleteOverride removes an override, or returns ErrNotFound.
	DeleteOverride(ctx context.Context, flag, orgID string, a Audit) (before Override, err error)
	// KillSwitch returns the kill switch (Enabled true if never set).
	KillSwitch(ctx context.Context) (KillSwitch, error)
	// SetKillSwitch sets the kill switch and returns the previous state.
	SetKillSwitch(ctx context.Context, enabled bool, a Audit) (before KillSwitch, err error)
	// History lists audited changes, newest first.
	History(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error)
	// Watch starts a change feed that ends (the channel is closed) when ctx
	// is done. The first event is StoreConnected once the feed is live;
	// events may be coalesced, so a consumer reloads with Load rather than
	// trusting Flags to be complete.
	Watch(ctx context.Context) <-chan StoreEvent
}

// ValidateFlagKey checks a flag key: 1–128 characters of [A-Za-z0-9._-],
// starting with a letter or digit.
func ValidateFlagKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: flag key is empty", ErrInvalid)
	}
	if len(key) > maxFlagKeyLen {
		return fmt.Errorf("%w: flag key longer than %d characters", ErrInvalid, maxFlagKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: flag key %q must start with a letter or digit", ErrInvalid, truncate(key, 64))
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: flag key %q has a character outside [A-Za-z0-9._-]", ErrInvalid, truncate(key, 64))
		}
	}
	return nil
}

// validateModeFlag checks the key of a flag that carries a mode (anything
// but the kill switch).
func validateModeFlag(key string) error {
	if err := ValidateFlagKey(key); err != nil {
		return err
	}
	if key == KillSwitchFlag {
		return fmt.Errorf("%w: %s is the kill switch, set it with SetKillSwitch", ErrInvalid, KillSwitchFlag)
	}
	return nil
}

// validateOrg checks an organization id or slug.
func validateOrg(org string) error {
	if org == "" {
		return fmt.Errorf("%w: organization is empty", ErrInvalid)
	}
	if len(org) > maxOrgIDLen {
		return fmt.Errorf("%w: organization longer than %d characters", ErrInvalid, maxOrgIDLen)
	}
	if !utf8.ValidString(org) || strings.ContainsFunc(org, isControlOrSpace) {
		return fmt.Errorf("%w: organization %q has spaces or control characters", ErrInvalid, truncate(org, 64))
	}
	return nil
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

// validateAudit checks the actor and reason of a change.
func validateAudit(a Audit) error {
	if strings.TrimSpace(a.Actor) == "" {
		return fmt.Errorf("%w: actor is required", ErrInvalid)
	}
	if len(a.Actor) > maxActorLen || !utf8.ValidString(a.Actor) {
		return fmt.Errorf("%w: actor longer than %d bytes or not UTF-8", ErrInvalid, maxActorLen)
	}
	if strings.TrimSpace(a.Reason) == "" {
		return fmt.Errorf("%w: reason is required", ErrInvalid)
	}
	if len(a.Reason) > maxReasonLen || !utf8.ValidString(a.Reason) {
		return fmt.Errorf("%w: reason longer than %d bytes or not UTF-8", ErrInvalid, maxReasonLen)
	}
	return nil
}

// ValidateRule checks a rule; it returns the first problem.
func ValidateRule(r Rule) error {
	if err := validateModeFlag(r.Flag); err != nil {
		return err
	}
	if !r.DefaultVariant.Valid() {
		return fmt.Errorf("%w: default_variant: %w", ErrInvalid, ErrInvalidMode)
	}
	seen := make(map[string]int)
	total := 0
	for i, l := range r.Allow {
		if !l.Variant.Valid() {
			return fmt.Errorf("%w: allow[%d].variant: %w", ErrInvalid, i, ErrInvalidMode)
		}
		if len(l.Orgs) == 0 {
			return fmt.Errorf("%w: allow[%d].orgs is empty", ErrInvalid, i)
		}
		total += len(l.Orgs)
		if total > maxAllowOrgs {
			return fmt.Errorf("%w: allow lists name more than %d organizations", ErrInvalid, maxAllowOrgs)
		}
		for _, org := range l.Orgs {
			if err := validateOrg(org); err != nil {
				return fmt.Errorf("allow[%d]: %w", i, err)
			}
			if j, dup := seen[org]; dup {
				return fmt.Errorf("%w: organization %q is in allow[%d] and allow[%d]", ErrInvalid, truncate(org, 64), j, i)
			}
			seen[org] = i
		}
	}
	if ro := r.Rollout; ro != nil {
		if !ro.Variant.Valid() {
			return fmt.Errorf("%w: rollout.variant: %w", ErrInvalid, ErrInvalidMode)
		}
		if math.IsNaN(ro.Percent) || ro.Percent < 0 || ro.Percent > 100 {
			return fmt.Errorf("%w: rollout.percent must be within [0, 100]", ErrInvalid)
		}
		if bp := ro.Percent * 100; math.Abs(bp-math.Round(bp)) > 1e-6 {
			return fmt.Errorf("%w: rollout.percent has more than two decimals", ErrInvalid)
		}
	}
	return nil
}

// ValidateOverride checks an override (flag, organization and variant).
func ValidateOverride(o Override) error {
	if err := validateModeFlag(o.Flag); err != nil {
		return err
	}
	if err := validateOrg(o.OrgID); err != nil {
		return err
	}
	if o.OrgSlug != "" {
		if err := validateOrg(o.OrgSlug); err != nil {
			return fmt.Errorf("org_slug: %w", err)
		}
	}
	if !o.Variant.Valid() {
		return fmt.Errorf("%w: variant: %w", ErrInvalid, ErrInvalidMode)
	}
	return nil
}

// clampHistoryLimit applies the default and the maximum page size.
func clampHistoryLimit(n int) int {
	if n <= 0 {
		return DefaultHistoryLimit
	}
	return min(n, maxHistoryLimit)
}

// overrideDoc, ruleDoc and killSwitchDoc render the before/after documents
// of the history.
func overrideDoc(o *Override) json.RawMessage {
	if o == nil {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(struct {
		Variant Mode `json:"variant"`
	}{o.Variant})
	return b
}

func ruleDoc(r *Rule) json.RawMessage {
	if r == nil {
		return json.RawMessage("null")
	}
	c := *r
	c.Actor, c.UpdatedAt = "", time.Time{}
	b, _ := json.Marshal(c)
	return b
}

func killSwitchDoc(enabled bool) json.RawMessage {
	if enabled {
		return json.RawMessage(`{"enabled":true}`)
	}
	return json.RawMessage(`{"enabled":false}`)
}

// cloneRule deep-copies a rule so callers cannot alias store internals.
func cloneRule(r Rule) Rule {
	if r.Allow != nil {
		allow := make([]AllowList, len(r.Allow))
		for i, l := range r.Allow {
			allow[i] = AllowList{Variant: l.Variant, Orgs: append([]string(nil), l.Orgs...)}
		}
		r.Allow = allow
	}
	if r.Rollout != nil {
		ro := *r.Rollout
		r.Rollout = &ro
	}
	return r
}
