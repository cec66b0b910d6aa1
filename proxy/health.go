package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// readyCheckTimeout bounds each readiness check, so that one hanging
// dependency makes /readyz fail instead of hang (load balancers time out
// health checks after a few seconds).
const readyCheckTimeout = 2 * time.Second

// readiness holds the registered checks.
type readiness struct {
	mu     sync.Mutex
	checks []readyCheck
}

type readyCheck struct {
	name  string
	check func(context.Context) error
}

// AddReadyCheck registers a dependency that /readyz reports by name, such as
// "store" or "flags". check must honour ctx; it runs on every /readyz call,
// concurrently with the other checks, with a 2s deadline. Safe to call at any
// time; registering a name again replaces the check.
func (s *Server) AddReadyCheck(name string, check func(context.Context) error) {
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	for i := range s.ready.checks {
		if s.ready.checks[i].name == name {
			s.ready.checks[i].check = check
			return
		}
	}
	s.ready.checks = append(s.ready.checks, readyCheck{name: name, check: check})
}

// healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// readyzBody is the /readyz answer.
type readyzBody struct {
	// Status is "ready", "unavailable" or "draining".
	Status string `json:"status"`
	// Checks holds "ok" or the error of each check.
	Checks map[string]string `json:"checks"`
	// Failing lists the names of the failing checks, sorted.
	Failing []string `json:"failing,omitempty"`
}

// readyz runs every check and answers 200 when all pass, 503 otherwise
// (and 503 "draining" once shutdown has begun, so load balancers stop
// sending new requests while in-flight ones finish).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.ready.mu.Lock()
	checks := append([]readyCheck(nil), s.ready.checks...)
	s.ready.mu.Unlock()

	body := readyzBody{Status: "ready", Checks: make(map[string]string, len(checks))}
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCheck(r.Context(), c.check)
		}()
	}
	wg.Wait()
	for i, c := range checks {
		if results[i] != nil {
			body.Checks[c.name] = results[i].Error()
			body.Failing = append(body.Failing, c.name)
		} else {
			body.Checks[c.name] = "ok"
		}
	}
	sort.Strings(body.Failing)
	status := http.StatusOK
	switch {
	case s.draining.Load():
		body.Status = "draining"
		status = http.StatusServiceUnavailable
	case len(body.Failing) > 0:
		body.Status = "unavailable"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

// runCheck runs one check with its deadline, turning a panic into an error.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Code: CodeInternal, Message: "check panicked"}
		}
	}()
	return check(ctx)
}

// writeJSON writes v as an uncached JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
