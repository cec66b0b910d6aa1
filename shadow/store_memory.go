package shadow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemoryStore keeps everything in memory: for the demo, tests and a single
// replica that can afford to lose its reports on restart. Timestamps are
// kept at microsecond precision, as PostgreSQL keeps them.
type MemoryStore struct {
	mu              sync.RWMutex
	exemplarsPerDay int
	rollups         map[memRollupKey]*Rollup
	classes         map[string]*memClass
	noise           map[memNoiseKey]*NoisePath
}

type memRollupKey struct {
	org, route string
	hour       int64
}

type memNoiseKey struct{ route, path string }

type memClassHour struct {
	org  string
	hour int64
}

type memClass struct {
	Class
	hours     map[memClassHour]int64
	exemplars []exemplarRow
}

type exemplarRow struct {
	day  int64
	data []byte // the exemplar as JSON, as PostgreSQL stores it
}

var _ Store = (*MemoryStore)(nil)

// MemoryStoreOptions configure a MemoryStore.
type MemoryStoreOptions struct {
	// ExemplarsPerDay per class; 0 means DefaultExemplarsPerDay.
	ExemplarsPerDay int
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(opts MemoryStoreOptions) *MemoryStore {
	if opts.ExemplarsPerDay <= 0 {
		opts.ExemplarsPerDay = DefaultExemplarsPerDay
	}
	return &MemoryStore{
		exemplarsPerDay: opts.ExemplarsPerDay,
		rollups:         make(map[memRollupKey]*Rollup),
		classes:         make(map[string]*memClass),
		noise:           make(map[memNoiseKey]*NoisePath),
	}
}

func usec(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Record implements Store.
func (s *MemoryStore) Record(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Encode exemplars before taking the lock: the only step that can fail.
	exs := make([][]byte, len(b.Exemplars))
	for i := range b.Exemplars {
		ex := b.Exemplars[i]
		ex.At = usec(ex.At)
		data, err := json.Marshal(ex)
		if err != nil {
			return fmt.Errorf("encode exemplar: %w", err)
		}
		exs[i] = data
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range b.Rollups {
		hour := hourOf(r.Hour)
		k := memRollupKey{r.OrgID, r.Route, hour.Unix()}
		cur := s.rollups[k]
		if cur == nil {
			cur = &Rollup{OrgID: r.OrgID, Route: r.Route, Hour: hour}
			s.rollups[k] = cur
		}
		cur.Counts.Add(r.Counts)
		cur.LegacyLatency.Merge(r.LegacyLatency)
		cur.NewLatency.Merge(r.NewLatency)
	}
	for _, c := range b.Classes {
		mc := s.classes[c.Fingerprint]
		first, last := usec(c.FirstSeen), usec(c.LastSeen)
		if mc == nil {
			mc = &memClass{Class: Class{
				Fingerprint: c.Fingerprint, Route: c.Route, Pattern: append([]PathKind(nil), c.Pattern...),
				FirstSeen: first, LastSeen: last, Status: StatusOpen,
			}, hours: make(map[memClassHour]int64)}
			s.classes[c.Fingerprint] = mc
		}
		mc.Total += c.Count
		if first.Before(mc.FirstSeen) {
			mc.FirstSeen = first
		}
		if last.After(mc.LastSeen) {
			mc.LastSeen = last
		}
		for _, h := range c.Hours {
			mc.hours[memClassHour{h.OrgID, hourOf(h.Hour).Unix()}] += h.Count
		}
	}
	for i, ex := range b.Exemplars {
		mc := s.classes[ex.Fingerprint]
		if mc == nil {
			continue // an exemplar of an unknown class has nothing to illustrate
		}
		day := dayOf(ex.At).Unix()
		n := 0
		for _, row := range mc.exemplars {
			if row.day == day {
				n++
			}
		}
		if n >= s.exemplarsPerDay {
			continue
		}
		mc.exemplars = append(mc.exemplars, exemplarRow{day: day, data: exs[i]})
	}
	for _, n := range b.Noise {
		k := memNoiseKey{n.Route, n.Path}
		cur := s.noise[k]
		first, last := usec(n.FirstSeen), usec(n.LastSeen)
		if cur == nil {
			cur = &NoisePath{Route: n.Route, Path: n.Path, FirstSeen: first, LastSeen: last}
			s.noise[k] = cur
		}
		cur.Count += n.Count
		if first.Before(cur.FirstSeen) {
			cur.FirstSeen = first
		}
		if last.After(cur.LastSeen) {
			cur.LastSeen = last
		}
	}
	return nil
}

// inPeriod reports whether an hour's start is in [hour(since), until).
func inPeriod(hour time.Time, since, until time.Time) bool {
	if !since.IsZero() && hour.Before(hourOf(since)) {
		return false
	}
	if !until.IsZero() && !hour.Before(until) {
		return false
	}
	return true
}

func (s *MemoryStore) selectRollups(f RollupFilter) []Rollup {
	var out []Rollup
	for _, r := range s.rollups {
		if f.OrgID != "" && r.OrgID != f.OrgID || f.Route != "" && r.Route != f.Route || !inPeriod(r.Hour, f.Since, f.Until) {
			continue
		}
		c := Rollup{OrgID: r.OrgID, Route: r.Route, Hour: r.Hour, Counts: r.Counts}
		c.LegacyLatency.Merge(r.LegacyLatency)
		c.NewLatency.Merge(r.NewLatency)
		out = append(out, c)
	}
	return out
}

// Rollups implements Store.
func (s *MemoryStore) Rollups(ctx context.Context, f RollupFilter) ([]Rollup, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := s.selectRollups(f)
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		if a.OrgID != b.OrgID {
			return a.OrgID < b.OrgID
		}
		return a.Route < b.Route
	})
	return out, nil
}

// Summaries implements Store.
func (s *MemoryStore) Summaries(ctx context.Context, f RollupFilter) ([]Summary, error) {
	rs, err := s.Rollups(ctx, f)
	if err != nil {
		return nil, err
	}
	type key struct{ org, route string }
	byKey := make(map[key]*Summary)
	for _, r := range rs {
		k := key{r.OrgID, r.Route}
		sum := byKey[k]
		if sum == nil {
			sum = &Summary{OrgID: r.OrgID, Route: r.Route, FirstHour: r.Hour, LastHour: r.Hour}
			byKey[k] = sum
		}
		sum.Counts.Add(r.Counts)
		sum.LegacyLatency.Merge(r.LegacyLatency)
		sum.NewLatency.Merge(r.NewLatency)
		if r.Hour.Before(sum.FirstHour) {
			sum.FirstHour = r.Hour
		}
		if r.Hour.After(sum.LastHour) {
			sum.LastHour = r.Hour
		}
	}
	out := make([]Summary, 0, len(byKey))
	for _, sum := range byKey {
		out = append(out, *sum)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].OrgID != out[j].OrgID {
			return out[i].OrgID < out[j].OrgID
		}
		return out[i].Route < out[j].Route
	})
	return out, nil
}

// classView copies a class with its counts restricted to org and period.
func (mc *memClass) view(org string, since, until time.Time) Class {
	c := mc.Class
	c.Pattern = append([]PathKind(nil), mc.Pattern...)
	c.Count = 0
	byOrg := make(map[string]int64)
	for k, n := range mc.hours {
		if org != "" && k.org != org || !inPeriod(unixHour(k.hour), since, until) {
			continue
		}
		c.Count += n
		byOrg[k.org] += n
	}
	c.Orgs = make([]OrgCount, 0, len(byOrg))
	for o, n := range byOrg {
		c.Orgs = append(c.Orgs, OrgCount{OrgID: o, Count: n})
	}
	sortOrgs(c.Orgs)
	return c
}

// sortOrgs orders orgs by count, descending, then id.
func sortOrgs(o []OrgCount) {
	sort.Slice(o, func(i, j int) bool {
		if o[i].Count != o[j].Count {
			return o[i].Count > o[j].Count
		}
		return o[i].OrgID < o[j].OrgID
	})
}

// Classes implements Store.
func (s *MemoryStore) Classes(ctx context.Context, f ClassFilter) ([]Class, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []Class
	for _, mc := range s.classes {
		if f.Route != "" && mc.Route != f.Route || f.Status != "" && mc.Status != f.Status {
			continue
		}
		c := mc.view(f.OrgID, f.Since, f.Until)
		if c.Count == 0 {
			continue
		}
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Class implements Store.
func (s *MemoryStore) Class(ctx context.Context, fingerprint string) (ClassDetail, error) {
	if err := ctx.Err(); err != nil {
		return ClassDetail{}, err
	}
	s.mu.RLock()
	mc := s.classes[fingerprint]
	if mc == nil {
		s.mu.RUnlock()
		return ClassDetail{}, fmt.Errorf("class %q: %w", fingerprint, ErrNotFound)
	}
	d := ClassDetail{Class: mc.view("", time.Time{}, time.Time{})}
	rows := append([]exemplarRow(nil), mc.exemplars...)
	route := mc.Route
	s.mu.RUnlock()
	d.Exemplars = make([]Exemplar, 0, len(rows))
	for _, row := range rows {
		var ex Exemplar
		if err := json.Unmarshal(row.data, &ex); err != nil {
			return ClassDetail{}, fmt.Errorf("decode exemplar: %w", err)
		}
		d.Exemplars = append(d.Exemplars, ex)
	}
	sort.SliceStable(d.Exemplars, func(i, j int) bool { return d.Exemplars[i].At.After(d.Exemplars[j].At) })
	noise, err := s.Noise(ctx, route)
	if err != nil {
		return ClassDetail{}, err
	}
	d.Noise = noise
	return d, nil
}

// Ack implements Store.
func (s *MemoryStore) Ack(ctx context.Context, fingerprint string, a Ack) (Class, error) {
	return s.setStatus(ctx, fingerprint, func(c *Class) {
		c.Status, c.AckNote, c.AckBy, c.AckAt = StatusAcknowledged, a.Note, a.By, usec(a.At)
	})
}

// Reopen implements Store.
func (s *MemoryStore) Reopen(ctx context.Context, fingerprint string) (Class, error) {
	return s.setStatus(ctx, fingerprint, func(c *Class) {
		c.Status, c.AckNote, c.AckBy, c.AckAt = StatusOpen, "", "", time.Time{}
	})
}

func (s *MemoryStore) setStatus(ctx context.Context, fingerprint string, f func(*Class)) (Class, error) {
	if err := ctx.Err(); err != nil {
		return Class{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mc := s.classes[fingerprint]
	if mc == nil {
		return Class{}, fmt.Errorf("class %q: %w", fingerprint, ErrNotFound)
	}
	f(&mc.Class)
	return mc.view("", time.Time{}, time.Time{}), nil
}

// Noise implements Store.
func (s *MemoryStore) Noise(ctx context.Context, route string) ([]NoisePath, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []NoisePath
	for _, n := range s.noise {
		if route == "" || n.Route == route {
			out = append(out, *n)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Route != out[j].Route {
			return out[i].Route < out[j].Route
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// DeleteBefore implements Store.
func (s *MemoryStore) DeleteBefore(ctx context.Context, cutoff time.Time) (Deleted, error) {
	if err := ctx.Err(); err != nil {
		return Deleted{}, err
	}
	var d Deleted
	s.mu.Lock()
	defer s.mu.Unlock()
	ended := func(hour time.Time) bool { return !hour.Add(time.Hour).After(cutoff) }
	// Rollups go by whole UTC days (as the PostgreSQL store's daily
	// rollups must).
	day := dayOf(cutoff)
	for k, r := range s.rollups {
		if r.Hour.Before(day) {
			delete(s.rollups, k)
			d.Rollups++
		}
	}
	for fp, mc := range s.classes {
		if mc.LastSeen.Before(cutoff) {
			d.Classes++
			d.ClassHours += int64(len(mc.hours))
			d.Exemplars += int64(len(mc.exemplars))
			delete(s.classes, fp)
			continue
		}
		for k := range mc.hours {
			if ended(unixHour(k.hour)) {
				delete(mc.hours, k)
				d.ClassHours++
			}
		}
		kept := mc.exemplars[:0]
		for _, row := range mc.exemplars {
			var ex struct {
				At time.Time `json:"at"`
			}
			if err := json.Unmarshal(row.data, &ex); err == nil && ex.At.Before(cutoff) {
				d.Exemplars++
				continue
			}
			kept = append(kept, row)
		}
		mc.exemplars = kept
	}
	for k, n := range s.noise {
		if n.LastSeen.Before(cutoff) {
			delete(s.noise, k)
			d.Noise++
		}
	}
	return d, nil
}
