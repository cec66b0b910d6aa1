package app

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

// tenancyAdmin serves the platform-admin views of SPEC §11: GET
// /admin/api/orgs (every organization, paged by slug), GET
// /admin/api/audit (platform-wide audit entries, newest first, filtered),
// and one org's details and API keys (admin_keys.go).
type tenancyAdmin struct {
	store tenancy.Store
	dir   orgDirectory
	// log receives failures the caller only sees as 500s. Nil: none.
	log *zap.Logger
}

func (h tenancyAdmin) orgs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r, q.Get("limit"))
	if !ok {
		return
	}
	orgs, err := h.store.ListOrgs(r.Context(), tenancy.ListOptions{Limit: limit, After: q.Get("after")})
	if err != nil {
		h.internal(w, r, "list organizations", err)
		return
	}
	if orgs == nil {
		orgs = []tenancy.Org{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": orgs})
}

func (h tenancyAdmin) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r, q.Get("limit"))
	if !ok {
		return
	}
	f := tenancy.AuditFilter{
		Action: q.Get("action"), TargetType: q.Get("target_type"), TargetID: q.Get("target_id"),
		Limit: limit, Cursor: q.Get("cursor"),
	}
	if c := f.Cursor; c != "" {
		if n, err := strconv.ParseInt(c, 10, 64); err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, "bad_request", "cursor: must be a next_cursor of a previous page")
			return
		}
	}
	now := time.Now()
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(b.name)
		if v == "" {
			continue
		}
		t, err := shadow.ParseTimeBound(v, now)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "bad_request", b.name+": "+err.Error())
			return
		}
		*b.dst = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		writeError(w, r, http.StatusBadRequest, "bad_request", "since: must be before until")
		return
	}
	if org := q.Get("org"); org != "" {
		o, err := h.dir.lookup(r.Context(), org)
		switch {
		case errors.Is(err, tenancy.ErrNotFound):
			writeError(w, r, http.StatusNotFound, "not_found", "org: no such organization")
			return
		case err != nil:
			h.internal(w, r, "look up organization", err)
			return
		}
		f.OrgID = o.ID
	}
	actor, known, ok := h.actorID(w, r, q.Get("actor"))
	if !ok {
		return
	}
	if !known {
		writeJSON(w, http.StatusOK, tenancy.AuditPage{Entries: []tenancy.AuditEntry{}})
		return
	}
	f.ActorID = actor
	page, err := h.store.ListPlatformAuditEntries(r.Context(), f)
	if errors.Is(err, tenancy.ErrInvalid) {
		writeError(w, r, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err != nil {
		h.internal(w, r, "list audit entries", err)
		return
	}
	if page.Entries == nil {
		page.Entries = []tenancy.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, page)
}

// actorID maps ?actor= to the actor ID the log is filtered by: a user's
// email (or "user:EMAIL", as admin actors are named) becomes the user's ID;
// anything else — a user or key ID, an admin token's name such as
// "admin:bootstrap-token" — is taken as is. known is false for an unknown
// email, which matches nothing; ok is false when it has answered.
func (h tenancyAdmin) actorID(w http.ResponseWriter, r *http.Request, actor string) (id string, known, ok bool) {
	email := strings.TrimPrefix(actor, "user:")
	if !strings.Contains(email, "@") {
		return actor, true, true
	}
	u, err := h.store.GetUserByEmail(r.Context(), email)
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return "", false, true
	case err != nil:
		h.internal(w, r, "look up actor", err)
		return "", false, false
	}
	return u.ID, true, true
}

// parseLimit reads ?limit= (1..500, default 100).
func parseLimit(w http.ResponseWriter, r *http.Request, v string) (int, bool) {
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		writeError(w, r, http.StatusBadRequest, "bad_request", "limit: must be an integer between 1 and 500")
		return 0, false
	}
	return n, true
}
