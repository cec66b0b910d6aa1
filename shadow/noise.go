package shadow

import (
	"sync"
	"sync/atomic"
	"time"
)

// NoiseSet is a read-only set of normalised paths learned as noise for one
// route: "$.items[*].generated_at", "header:Etag", "body". A difference is
// noise when its normalised path or one of its ancestors is in the set. The
// nil set is empty.
type NoiseSet map[string]struct{}

// covers reports whether a non-JSON normalised path is noise.
func (n NoiseSet) covers(norm string) bool {
	if len(n) == 0 {
		return false
	}
	_, ok := n[norm]
	return ok
}

// coversSegments reports whether the path or an ancestor is noise.
func (n NoiseSet) coversSegments(segs []segment) bool {
	if len(n) == 0 {
		return false
	}
	var stack [256]byte
	buf := append(stack[:0], '$')
	if _, ok := n[string(buf)]; ok {
		return true
	}
	for i := range segs {
		buf = appendNormalizedPath(buf[:0], segs[:i+1])
		if _, ok := n[string(buf)]; ok {
			return true
		}
	}
	return false
}

// NoisePath is one path learned as noise for a route.
type NoisePath struct {
	Route string `json:"route"`
	Path  string `json:"path"`
	// Count is how many probes saw this path differ.
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// maxNoisePerRoute bounds what one route can learn; a route whose answers
// differ in more places than this is not comparable anyway.
const maxNoisePerRoute = 1000

// noiseBook holds the noise learned per route. Workers learn under a mutex
// (never on the serving path, never across I/O); comparisons read a
// copy-on-write snapshot without locking.
type noiseBook struct {
	mu     sync.Mutex
	routes map[string]*routeNoise
}

type routeNoise struct {
	counts   map[string]int64
	snapshot atomic.Pointer[NoiseSet]
}

func newNoiseBook() *noiseBook { return &noiseBook{routes: make(map[string]*routeNoise)} }

// set returns the current noise of a route (nil if none).
func (b *noiseBook) set(route string) NoiseSet {
	b.mu.Lock()
	rn := b.routes[route]
	b.mu.Unlock()
	if rn == nil {
		return nil
	}
	if s := rn.snapshot.Load(); s != nil {
		return *s
	}
	return nil
}

// learn adds paths seen differing between two answers of the same backend.
// "status" is never learned: a backend whose status flaps is broken, not
// noisy. It returns the paths that were new for the route.
func (b *noiseBook) learn(route string, paths []string) []string {
	var added []string
	b.update(route, func(counts map[string]int64) {
		for _, p := range paths {
			if p == "status" {
				continue
			}
			if _, ok := counts[p]; !ok {
				if len(counts) >= maxNoisePerRoute {
					continue
				}
				added = append(added, p)
			}
			counts[p]++
		}
	})
	return added
}

// load merges paths read from the store (learned by any replica).
func (b *noiseBook) load(paths []NoisePath) {
	byRoute := make(map[string][]NoisePath)
	for _, p := range paths {
		byRoute[p.Route] = append(byRoute[p.Route], p)
	}
	for route, ps := range byRoute {
		b.update(route, func(counts map[string]int64) {
			for _, p := range ps {
				if p.Path == "status" {
					continue
				}
				if _, ok := counts[p.Path]; !ok && len(counts) >= maxNoisePerRoute {
					continue
				}
				counts[p.Path] = max(counts[p.Path], p.Count)
			}
		})
	}
}

// update runs f on a route's counts and republishes the snapshot.
func (b *noiseBook) update(route string, f func(counts map[string]int64)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rn := b.routes[route]
	if rn == nil {
		rn = &routeNoise{counts: make(map[string]int64)}
		b.routes[route] = rn
	}
	before := len(rn.counts)
	f(rn.counts)
	if len(rn.counts) == before && rn.snapshot.Load() != nil {
		return
	}
	s := make(NoiseSet, len(rn.counts))
	for p := range rn.counts {
		s[p] = struct{}{}
	}
	rn.snapshot.Store(&s)
}
