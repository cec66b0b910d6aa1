package sampleapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The deliberate difference between the services: the tenant-aware one
// reports the language of the affirmations list as a locale.
const (
	// DifferenceRoute is the path whose GET answers differ.
	DifferenceRoute = "/api/affirmations"
	// DifferencePath is the JSON path that differs: "en" from legacy,
	// "en-US" from the tenant-aware service.
	DifferencePath = "$.language"
)

// Tenant headers the proxy sets and the tenant-aware service reads.
const (
	HeaderOrgID   = "X-Tenant-Org-ID"
	HeaderOrgSlug = "X-Tenant-Org-Slug"
	HeaderShadow  = "X-Shadow-Request"
)

const (
	// maxBodyBytes bounds request bodies; the API takes short texts.
	maxBodyBytes = 64 << 10
	// maxItems bounds each stored list per scope: the oldest entries go.
	maxItems = 200
	// maxScopes bounds how many organizations the tenant-aware service
	// keeps data for; beyond it the least recently created scope goes.
	maxScopes = 1024
	// maxTextLen bounds user-provided texts, as the real API's validators do.
	maxTextLen = 2000
)

// Option adjusts a service.
type Option func(*service)

// WithClock sets the clock for timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *service) { s.now = now } }

// WithStreamDelay sets the pause between two events of /api/qa/stream
// (default 40ms): long enough that a proxy that buffers the stream is seen
// to do so, short enough for tests and the demo.
func WithStreamDelay(d time.Duration) Option { return func(s *service) { s.streamDelay = d } }

// NewLegacy returns the single-tenant legacy service.
func NewLegacy(opts ...Option) http.Handler { return newService(false, opts) }

// NewTenantAware returns the multi-tenant new service.
func NewTenantAware(opts ...Option) http.Handler { return newService(true, opts) }

// service implements both: tenantAware switches scoping, dry runs and the
// deliberate difference.
type service struct {
	tenantAware bool
	now         func() time.Time
	streamDelay time.Duration
	routes      map[string]map[string]http.HandlerFunc

	mu     sync.Mutex
	scopes map[string]*scopeData
	order  []string // scope creation order, for eviction
}

var _ http.Handler = (*service)(nil)

func newService(tenantAware bool, opts []Option) *service {
	s := &service{
		tenantAware: tenantAware,
		now:         time.Now,
		streamDelay: 40 * time.Millisecond,
		scopes:      map[string]*scopeData{},
	}
	for _, o := range opts {
		o(s)
	}
	s.routes = map[string]map[string]http.HandlerFunc{
		"/health":               {"GET": s.health},
		"/api/affirmations":     {"GET": s.listAffirmations, "POST": s.createAffirmation},
		"/api/qa":               {"POST": s.ask},
		"/api/qa/stream":        {"GET": s.stream, "POST": s.stream},
		"/api/knowledge":        {"GET": s.knowledge},
		"/api/knowledge/":       {"GET": s.knowledge},
		"/api/content-strategy": {"GET": s.getStrategy, "POST": s.makeStrategy},
		"/api/instagram/posts":  {"GET": s.listPosts, "POST": s.createPost},
		"/api/visual-posts":     {"GET": s.listVisuals, "POST": s.createVisual},
		"/api/video":            {"GET": s.listVideos, "POST": s.createVideo},
	}
	if tenantAware {
		s.routes["/api/context"] = map[string]http.HandlerFunc{"GET": s.context}
	}
	return s
}

// context shows the tenant context the proxy handed over: only the
// tenant-aware service has it (the legacy service answers 404).
func (s *service) context(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"service":         "new",
		"org_id":          r.Header.Get(HeaderOrgID),
		"org_slug":        r.Header.Get(HeaderOrgSlug),
		"project_id":      r.Header.Get("X-Tenant-Project-ID"),
		"user_id":         r.Header.Get("X-Tenant-User-ID"),
		"role":            r.Header.Get("X-Tenant-Role"),
		"assertion_found": r.Header.Get("X-Tenant-Assertion") != "",
	})
}

// ServeHTTP routes like the FastAPI app: exact paths, JSON 404 and 405.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	methods, ok := s.routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, detail{"Not Found"})
		return
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h, ok := methods[method]
	if !ok {
		allowed := make([]string, 0, len(methods))
		for m := range methods {
			allowed = append(allowed, m)
		}
		slices.Sort(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, detail{"Method Not Allowed"})
		return
	}
	h(w, r)
}

// with runs fn on the data of the caller's organization (the one scope of
// the legacy service), creating it with the seed data, under the lock.
func (s *service) with(r *http.Request, fn func(d *scopeData)) {
	key := "default"
	if s.tenantAware {
		if id := r.Header.Get(HeaderOrgID); id != "" {
			key = "id:" + truncate(id, 128)
		} else if slug := r.Header.Get(HeaderOrgSlug); slug != "" {
			key = "slug:" + truncate(slug, 128)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.scopes[key]
	if !ok {
		if len(s.order) >= maxScopes {
			delete(s.scopes, s.order[0])
			s.order = s.order[1:]
		}
		d = newScopeData()
		s.scopes[key] = d
		s.order = append(s.order, key)
	}
	fn(d)
}

// dryRun reports whether the request must leave no trace: a shadow copy
// sent to the tenant-aware service. The legacy service does not know the
// header, like the real one.
func (s *service) dryRun(r *http.Request) bool {
	return s.tenantAware && strings.EqualFold(r.Header.Get(HeaderShadow), "true")
}

func (s *service) timestamp() string {
	return s.now().UTC().Format(time.RFC3339Nano)
}

// detail is FastAPI's error body.
type detail struct {
	Detail any `json:"detail"`
}

// validationError is one entry of FastAPI's 422 body.
type validationError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"detail":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// readBody decodes a JSON object into dst and requires field to be a
// non-empty string of at most maxTextLen; it writes the error answer and
// returns false otherwise.
func readBody(w http.ResponseWriter, r *http.Request, dst any, field string, get func() string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeJSON(w, http.StatusRequestEntityTooLarge, detail{"Request body too large"})
		case errors.Is(err, io.EOF):
			writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"body"}, Msg: "Field required", Type: "missing"}}})
		default:
			writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"body"}, Msg: "JSON decode error", Type: "json_invalid"}}})
		}
		return false
	}
	v := get()
	switch {
	case strings.TrimSpace(v) == "":
		writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"body", field}, Msg: "Field required", Type: "missing"}}})
		return false
	case len(v) > maxTextLen:
		writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"body", field}, Msg: fmt.Sprintf("String should have at most %d characters", maxTextLen), Type: "string_too_long"}}})
		return false
	}
	return true
}

// newID returns a random id with a prefix, as the real app's ids are
// random (uuid4): volatile across calls and services.
func newID(prefix string) string {
	return fmt.Sprintf("%s_%016x", prefix, rand.Uint64())
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
