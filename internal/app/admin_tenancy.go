package app

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

// tenancyAdmin serves the platform-admin views of SPEC §11: GET
// /admin/api/orgs (every organization, paged by slug) and GET
// /admin/api/audit (platform-wide audit entries, newest first, filtered).
type tenancyAdmin struct {
	store tenancy.Store
	dir   orgDirectory
}

func (h tenancyAdmin) orgs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r, q.Get("limit"))
	if !ok {
		return
	}
	orgs, err := h.store.ListOrgs(r.Context(), tenancy.ListOptions{Limit: limit, After: q.Get("after")})
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "internal", "list organizations failed")
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
		ActorID: q.Get("actor"), Action: q.Get("action"),
		TargetType: q.Get("target_type"), TargetID: q.Get("target_id"),
		Limit: limit, Cursor: q.Get("cursor"),
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := shadow.ParseTimeBound(v, time.Now())
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "bad_request", name+": "+err.Error())
			return
		}
		*dst = t
	}
	if org := q.Get("org"); org != "" {
		id, _, err := h.dir.ResolveOrg(r.Context(), org)
		if err != nil {
			writeError(w, r, http.StatusNotFound, "not_found", "org: no such organization")
			return
		}
		f.OrgID = id
	}
	page, err := h.store.ListPlatformAuditEntries(r.Context(), f)
	if errors.Is(err, tenancy.ErrInvalid) {
		writeError(w, r, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "internal", "list audit entries failed")
		return
	}
	if page.Entries == nil {
		page.Entries = []tenancy.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, page)
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
