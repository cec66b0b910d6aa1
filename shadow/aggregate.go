package shadow

import (
	"sort"
)

// aggregate folds results into one Batch: rollups per org × route × hour,
// class counts per fingerprint and per org × hour, exemplars, noise counts.
// Aggregating before writing is what makes the store's work depend on the
// number of keys, not on the number of requests.
func aggregate(results []Result) Batch {
	type rollupKey struct {
		org, route string
		hour       int64
	}
	type classHourKey struct {
		org  string
		hour int64
	}
	type noiseKey struct{ route, path string }

	rollups := make(map[rollupKey]*Rollup)
	var rollupOrder []rollupKey
	classes := make(map[string]*ClassDelta)
	classHours := make(map[string]map[classHourKey]int64)
	var classOrder []string
	noise := make(map[noiseKey]*NoisePath)
	var noiseOrder []noiseKey
	var b Batch

	for i := range results {
		r := &results[i]
		at := r.At.UTC()
		hour := hourOf(at)
		k := rollupKey{r.OrgID, r.Route, hour.Unix()}
		ru := rollups[k]
		if ru == nil {
			ru = &Rollup{OrgID: r.OrgID, Route: r.Route, Hour: hour}
			rollups[k] = ru
			rollupOrder = append(rollupOrder, k)
		}
		switch r.Outcome {
		case OutcomeMatch:
			ru.Match++
		case OutcomeDiff:
			ru.Diff++
		case OutcomeCandidateError:
			ru.CandidateError++
		case OutcomeDropped:
			ru.Dropped++
			if r.Reason == ReasonTooLarge {
				ru.TooLarge++
			}
		}
		if r.NoiseSuppressed > 0 {
			ru.Noisy++
		}
		if r.LegacyLatency > 0 {
			ru.LegacyLatency.Observe(r.LegacyLatency)
		}
		if r.NewLatency > 0 {
			ru.NewLatency.Observe(r.NewLatency)
		}

		if r.Outcome == OutcomeDiff && r.Fingerprint != "" {
			c := classes[r.Fingerprint]
			if c == nil {
				c = &ClassDelta{Fingerprint: r.Fingerprint, Route: r.Route, Pattern: r.Pattern, FirstSeen: at, LastSeen: at}
				classes[r.Fingerprint] = c
				classHours[r.Fingerprint] = make(map[classHourKey]int64)
				classOrder = append(classOrder, r.Fingerprint)
			}
			c.Count++
			if at.Before(c.FirstSeen) {
				c.FirstSeen = at
			}
			if at.After(c.LastSeen) {
				c.LastSeen = at
			}
			classHours[r.Fingerprint][classHourKey{r.OrgID, hour.Unix()}]++
		}
		if r.Exemplar != nil {
			b.Exemplars = append(b.Exemplars, *r.Exemplar)
		}
		for _, p := range r.Noise {
			nk := noiseKey{r.Route, p}
			n := noise[nk]
			if n == nil {
				n = &NoisePath{Route: r.Route, Path: p, FirstSeen: at, LastSeen: at}
				noise[nk] = n
				noiseOrder = append(noiseOrder, nk)
			}
			n.Count++
			if at.Before(n.FirstSeen) {
				n.FirstSeen = at
			}
			if at.After(n.LastSeen) {
				n.LastSeen = at
			}
		}
	}

	b.Rollups = make([]Rollup, 0, len(rollupOrder))
	for _, k := range rollupOrder {
		b.Rollups = append(b.Rollups, *rollups[k])
	}
	b.Classes = make([]ClassDelta, 0, len(classOrder))
	for _, fp := range classOrder {
		c := classes[fp]
		for k, n := range classHours[fp] {
			c.Hours = append(c.Hours, ClassHour{OrgID: k.org, Hour: unixHour(k.hour), Count: n})
		}
		sort.Slice(c.Hours, func(i, j int) bool {
			if !c.Hours[i].Hour.Equal(c.Hours[j].Hour) {
				return c.Hours[i].Hour.Before(c.Hours[j].Hour)
			}
			return c.Hours[i].OrgID < c.Hours[j].OrgID
		})
		b.Classes = append(b.Classes, *c)
	}
	for _, k := range noiseOrder {
		b.Noise = append(b.Noise, *noise[k])
	}
	return b
}
