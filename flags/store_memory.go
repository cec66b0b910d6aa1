package flags

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memoryHistoryCap bounds the memory store's history; the oldest entries
// go first. The memory store serves one process (development, the demo),
// where an unbounded audit trail would only be a slow leak.
const memoryHistoryCap = 10000

// watchBuffer is the capacity of a change feed channel. A full feed drops
// the new event: a pending StoreChanged already makes the consumer reload.
const watchBuffer = 16

// MemoryStore is a Store held in process memory, with in-process change
// notification. It is safe for concurrent use.
type MemoryStore struct {
	now func() time.Time

	mu        sync.Mutex
	rules     map[string]Rule
	overrides map[string]map[string]Override // flag → org id → override
	kill      KillSwitch
	history   []HistoryEntry
	nextID    int64
	watchers  map[chan StoreEvent]struct{}
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store: no rules, no overrides, kill
// switch enabled. now is the clock (nil: time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{
		now:       now,
		rules:     make(map[string]Rule),
		overrides: make(map[string]map[string]Override),
		kill:      KillSwitch{Enabled: true},
		nextID:    1,
		watchers:  make(map[chan StoreEvent]struct{}),
	}
}

// Load implements Store.
func (s *MemoryStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{KillSwitch: s.kill}
	for _, r := range s.rules {
		st.Rules = append(st.Rules, cloneRule(r))
	}
	slices.SortFunc(st.Rules, func(a, b Rule) int { return cmp.Compare(a.Flag, b.Flag) })
	st.Overrides = s.overridesLocked("")
	return st, nil
}

// Rule implements Store.
func (s *MemoryStore) Rule(ctx context.Context, flag string) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rules[flag]
	if !ok {
		return Rule{}, fmt.Errorf("rule %q: %w", truncate(flag, 64), ErrNotFound)
	}
	return cloneRule(r), nil
}

// Overrides implements Store.
func (s *MemoryStore) Overrides(ctx context.Context, flag string) ([]Override, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overridesLocked(flag), nil
}

func (s *MemoryStore) overridesLocked(flag string) []Override {
	var out []Override
	for f, byOrg := range s.overrides {
		if flag != "" && f != flag {
			continue
		}
		for _, o := range byOrg {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Override) int {
		return cmp.Or(cmp.Compare(a.Flag, b.Flag), cmp.Compare(a.OrgID, b.OrgID))
	})
	return out
}

// SetRule implements Store.
func (s *MemoryStore) SetRule(ctx context.Context, r Rule, a Audit) (*Rule, error) {
	if err := ValidateRule(r); err != nil {
		return nil, err
	}
	if err := validateAudit(a); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r = cloneRule(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Actor, r.UpdatedAt = a.Actor, s.now().UTC()
	var before *Rule
	if old, ok := s.rules[r.Flag]; ok {
		before = &old
	}
	s.rules[r.Flag] = r
	s.appendLocked(HistoryEntry{Actor: a.Actor, Action: ActionRuleSet, Flag: r.Flag,
		Before: ruleDoc(before), After: ruleDoc(&r), Reason: a.Reason})
	s.notifyLocked(r.Flag)
	if before != nil {
		b := cloneRule(*before)
		return &b, nil
	}
	return nil, nil
}

// DeleteRule implements Store.
func (s *MemoryStore) DeleteRule(ctx context.Context, flag string, a Audit) (Rule, error) {
	if err := validateAudit(a); err != nil {
		return Rule{}, err
	}
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.rules[flag]
	if !ok {
		return Rule{}, fmt.Errorf("rule %q: %w", truncate(flag, 64), ErrNotFound)
	}
	delete(s.rules, flag)
	s.appendLocked(HistoryEntry{Actor: a.Actor, Action: ActionRuleDelete, Flag: flag,
		Before: ruleDoc(&old), After: ruleDoc(nil), Reason: a.Reason})
	s.notifyLocked(flag)
	return cloneRule(old), nil
}

// SetOverride implements Store.
func (s *MemoryStore) SetOverride(ctx context.Context, o Override, a Audit) (*Override, error) {
	if err := ValidateOverride(o); err != nil {
		return nil, err
	}
	if err := validateAudit(a); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o.Reason, o.Actor, o.UpdatedAt = a.Reason, a.Actor, s.now().UTC()
	byOrg := s.overrides[o.Flag]
	if byOrg == nil {
		byOrg = make(map[string]Override)
		s.overrides[o.Flag] = byOrg
	}
	var before *Override
	if old, ok := byOrg[o.OrgID]; ok {
		before = &old
	}
	byOrg[o.OrgID] = o
	s.appendLocked(HistoryEntry{Actor: a.Actor, Action: ActionOverrideSet, Flag: o.Flag, OrgID: o.OrgID,
		OrgSlug: o.OrgSlug, Before: overrideDoc(before), After: overrideDoc(&o), Reason: a.Reason})
	s.notifyLocked(o.Flag)
	return before, nil
}

// DeleteOverride implements Store.
func (s *MemoryStore) DeleteOverride(ctx context.Context, flag, orgID string, a Audit) (Override, error) {
	if err := validateAudit(a); err != nil {
		return Override{}, err
	}
	if err := ctx.Err(); err != nil {
		return Override{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.overrides[flag][orgID]
	if !ok {
		return Override{}, fmt.Errorf("override of %q for %q: %w", truncate(flag, 64), truncate(orgID, 64), ErrNotFound)
	}
	delete(s.overrides[flag], orgID)
	if len(s.overrides[flag]) == 0 {
		delete(s.overrides, flag)
	}
	s.appendLocked(HistoryEntry{Actor: a.Actor, Action: ActionOverrideUnset, Flag: flag, OrgID: orgID,
		OrgSlug: old.OrgSlug, Before: overrideDoc(&old), After: overrideDoc(nil), Reason: a.Reason})
	s.notifyLocked(flag)
	return old, nil
}

// KillSwitch implements Store.
func (s *MemoryStore) KillSwitch(ctx context.Context) (KillSwitch, error) {
	if err := ctx.Err(); err != nil {
		return KillSwitch{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kill, nil
}

// SetKillSwitch implements Store.
func (s *MemoryStore) SetKillSwitch(ctx context.Context, enabled bool, a Audit) (KillSwitch, error) {
	if err := validateAudit(a); err != nil {
		return KillSwitch{}, err
	}
	if err := ctx.Err(); err != nil {
		return KillSwitch{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.kill
	s.kill = KillSwitch{Enabled: enabled, Reason: a.Reason, Actor: a.Actor, UpdatedAt: s.now().UTC()}
	s.appendLocked(HistoryEntry{Actor: a.Actor, Action: ActionKillSwitchSet, Flag: KillSwitchFlag,
		Before: killSwitchDoc(before.Enabled), After: killSwitchDoc(enabled), Reason: a.Reason})
	s.notifyLocked(KillSwitchFlag)
	return before, nil
}

// History implements Store.
func (s *MemoryStore) History(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := clampHistoryLimit(f.Limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []HistoryEntry{}
	for i := len(s.history) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.history[i]
		if f.BeforeID > 0 && e.ID >= f.BeforeID {
			continue
		}
		if f.Flag != "" && e.Flag != f.Flag {
			continue
		}
		if f.OrgID != "" && e.OrgID != f.OrgID {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Watch implements Store. The memory store never disconnects.
func (s *MemoryStore) Watch(ctx context.Context) <-chan StoreEvent {
	ch := make(chan StoreEvent, watchBuffer)
	ch <- StoreEvent{Kind: StoreConnected}
	s.mu.Lock()
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.watchers, ch)
		close(ch)
		s.mu.Unlock()
	}()
	return ch
}

func (s *MemoryStore) appendLocked(e HistoryEntry) {
	e.ID = s.nextID
	s.nextID++
	e.At = s.now().UTC()
	s.history = append(s.history, e)
	if len(s.history) > memoryHistoryCap {
		s.history = slices.Delete(s.history, 0, len(s.history)-memoryHistoryCap)
	}
}

// notifyLocked tells every watcher that flag changed, without blocking.
func (s *MemoryStore) notifyLocked(flag string) {
	for ch := range s.watchers {
		select {
		case ch <- StoreEvent{Kind: StoreChanged, Flags: []string{flag}}:
		default:
		}
	}
}
