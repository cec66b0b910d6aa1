package flags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// AdminPathPrefix is where the flag endpoints live on the admin listener.
const AdminPathPrefix = "/admin/api/"

// ErrOrgNotFound is what an OrgResolver returns (wrapped) for an unknown
// organization; the admin API answers 404.
var ErrOrgNotFound = errors.New("organization not found")

// OrgResolver resolves an organization given by id or slug, as in a path
// ("/admin/api/flags/route.qa/orgs/acme").
type OrgResolver func(ctx context.Context, idOrSlug string) (id, slug string, err error)

// AdminOptions configure the flag endpoints of the admin API.
type AdminOptions struct {
	// Store holds the flags. Required.
	Store Store
	// Actor names the authenticated caller (admin token name, platform
	// admin's email); it is recorded with every change. The admin listener
	// authenticates before this handler runs; an empty actor is refused
	// with 401, so nothing is changed anonymously. Required.
	Actor func(ctx context.Context) string
	// ResolveOrg maps the {org} of a path, and allow-list entries, to an
	// organization id and slug. Nil takes them as ids verbatim.
	ResolveOrg OrgResolver
	// Routes are the configured route groups: GET /admin/api/flags lists
	// route.<name> for each even without rule or override.
	Routes []string
	// RequestID returns the request id for error bodies. Default: the
	// X-Request-ID header, or a new UUID.
	RequestID func(*http.Request) string
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Logger records every change. Default: no-op.
	Logger *zap.Logger
}

// adminHandler serves:
//
//	GET    /admin/api/flags                       all mode flags and the kill switch
//	GET    /admin/api/flags/{key}                 one flag with its overrides
//	PUT    /admin/api/flags/{key}                 set the rule       {"default_variant","allow","rollout","reason"}
//	DELETE /admin/api/flags/{key}                 delete the rule    {"reason"} or ?reason=
//	PUT    /admin/api/flags/{key}/orgs/{org}      set an override    {"variant","reason"}
//	DELETE /admin/api/flags/{key}/orgs/{org}      remove an override {"reason"} or ?reason=
//	GET    /admin/api/flags/{key}/history         audited changes    ?limit=&before=&org=
//	                                              (key strangler-enabled: the kill switch's)
//	GET    /admin/api/kill-switch                 the kill switch
//	PUT    /admin/api/kill-switch                 set it             {"enabled","reason"}
type adminHandler struct {
	opts AdminOptions
}

// NewAdminHandler returns the flag endpoints of the admin API. It serves
// full paths: mount it for AdminPathPrefix+"flags", AdminPathPrefix+"flags/"
// and AdminPathPrefix+"kill-switch" behind the admin authentication.
func NewAdminHandler(opts AdminOptions) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("admin handler: store is required")
	}
	if opts.Actor == nil {
		return nil, errors.New("admin handler: actor function is required")
	}
	if opts.ResolveOrg == nil {
		opts.ResolveOrg = func(_ context.Context, s string) (string, string, error) { return s, "", nil }
	}
	if opts.RequestID == nil {
		opts.RequestID = requestIDFromHeader
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &adminHandler{opts: opts}, nil
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := h.opts.RequestID(r)
	err := h.route(w, r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			h.opts.Logger.Error("admin flags API failed", zap.String("request_id", reqID),
				zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
			ae = &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error; see the server log"}
		}
		if ae.allow != "" {
			w.Header().Set("Allow", ae.allow)
		}
		writeError(w, reqID, ae)
	}
}

// route dispatches on the path segments after /admin/api/.
func (h *adminHandler) route(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPut || r.Method == http.MethodDelete {
		if strings.TrimSpace(h.opts.Actor(r.Context())) == "" {
			return errNoActor
		}
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), AdminPathPrefix)
	if !ok {
		return notFound("no such endpoint")
	}
	raw := strings.Split(rest, "/")
	seg := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return notFound("no such endpoint")
		}
		seg[i] = u
	}
	switch {
	case len(seg) == 1 && seg[0] == "kill-switch":
		switch r.Method {
		case http.MethodGet:
			return h.getKillSwitch(w, r)
		case http.MethodPut:
			return h.putKillSwitch(w, r)
		}
		return methodNotAllowed("GET,PUT")
	case len(seg) == 1 && seg[0] == "flags":
		if r.Method == http.MethodGet {
			return h.listFlags(w, r)
		}
		return methodNotAllowed("GET")
	case len(seg) >= 2 && seg[0] == "flags":
		key := seg[1]
		if key == KillSwitchFlag {
			if len(seg) == 3 && seg[2] == "history" && r.Method == http.MethodGet {
				return h.history(w, r, key)
			}
			return notFound("%s is the kill switch: use %skill-switch", KillSwitchFlag, AdminPathPrefix)
		}
		if err := validateModeFlag(key); err != nil || !strings.HasPrefix(key, RouteFlagPrefix) {
			return notFound("no flag %q: mode flags are %s<route group>", truncate(key, 64), RouteFlagPrefix)
		}
		switch {
		case len(seg) == 2:
			switch r.Method {
			case http.MethodGet:
				return h.getFlag(w, r, key)
			case http.MethodPut:
				return h.putRule(w, r, key)
			case http.MethodDelete:
				return h.deleteRule(w, r, key)
			}
			return methodNotAllowed("GET,PUT,DELETE")
		case len(seg) == 3 && seg[2] == "history":
			if r.Method == http.MethodGet {
				return h.history(w, r, key)
			}
			return methodNotAllowed("GET")
		case len(seg) == 4 && seg[2] == "orgs":
			switch r.Method {
			case http.MethodPut:
				return h.putOverride(w, r, key, seg[3])
			case http.MethodDelete:
				return h.deleteOverride(w, r, key, seg[3])
			}
			return methodNotAllowed("PUT,DELETE")
		}
	}
	return notFound("no such endpoint")
}

// errNoActor refuses a change nobody can be held to account for.
var errNoActor = &apiError{status: http.StatusUnauthorized, code: codeUnauthenticated, message: "no authenticated caller"}

func methodNotAllowed(allow string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
		message: "method not allowed; allowed: " + allow, allow: strings.ReplaceAll(allow, ",", ", ")}
}

// audit builds the Audit of a change, or refuses an anonymous one.
func (h *adminHandler) audit(r *http.Request, reason string) (Audit, error) {
	actor := strings.TrimSpace(h.opts.Actor(r.Context()))
	if actor == "" {
		return Audit{}, errNoActor
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Audit{}, badRequest("field \"reason\" is required: say why, it goes into the history")
	}
	return Audit{Actor: actor, Reason: reason}, nil
}

// storeError maps the Store's sentinels.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrInvalidMode):
		return badRequest("%v", err)
	case errors.Is(err, ErrNotFound):
		return notFound("%v", err)
	}
	return err
}

func (h *adminHandler) listFlags(w http.ResponseWriter, r *http.Request) error {
	st, err := h.opts.Store.Load(r.Context())
	if err != nil {
		return err
	}
	views := map[string]*FlagView{}
	view := func(key string) *FlagView {
		v := views[key]
		if v == nil {
			v = &FlagView{Key: key}
			views[key] = v
		}
		return v
	}
	for _, route := range h.opts.Routes {
		view(RouteFlagPrefix + route)
	}
	for i := range st.Rules {
		view(st.Rules[i].Flag).Rule = &st.Rules[i]
	}
	for _, o := range st.Overrides {
		view(o.Flag).OverrideCount++
	}
	list := FlagList{KillSwitch: st.KillSwitch, Flags: make([]FlagView, 0, len(views))}
	for _, v := range views {
		list.Flags = append(list.Flags, *v)
	}
	sort.Slice(list.Flags, func(i, j int) bool { return list.Flags[i].Key < list.Flags[j].Key })
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (h *adminHandler) getFlag(w http.ResponseWriter, r *http.Request, key string) error {
	v := FlagView{Key: key}
	rule, err := h.opts.Store.Rule(r.Context(), key)
	switch {
	case err == nil:
		v.Rule = &rule
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if v.Overrides, err = h.opts.Store.Overrides(r.Context(), key); err != nil {
		return err
	}
	if v.Overrides == nil {
		v.Overrides = []Override{}
	}
	v.OverrideCount = len(v.Overrides)
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (h *adminHandler) putRule(w http.ResponseWriter, r *http.Request, key string) error {
	var req RuleRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	a, err := h.audit(r, req.Reason)
	if err != nil {
		return err
	}
	rule := Rule{Flag: key}
	if req.DefaultVariant == "" {
		req.DefaultVariant = modeNames[ModeLegacy]
	}
	if rule.DefaultVariant, err = ParseMode(req.DefaultVariant); err != nil {
		return badRequest("field \"default_variant\": %v", err)
	}
	for i, l := range req.Allow {
		v, err := ParseMode(l.Variant)
		if err != nil {
			return badRequest("field \"allow[%d].variant\": %v", i, err)
		}
		list := AllowList{Variant: v}
		for j, org := range l.Orgs {
			id, _, err := h.opts.ResolveOrg(r.Context(), org)
			if err != nil {
				if errors.Is(err, ErrOrgNotFound) {
					return badRequest("field \"allow[%d].orgs[%d]\": organization %q not found", i, j, truncate(org, 64))
				}
				return fmt.Errorf("resolve organization: %w", err)
			}
			list.Orgs = append(list.Orgs, id)
		}
		rule.Allow = append(rule.Allow, list)
	}
	if req.Rollout != nil {
		v, err := ParseMode(req.Rollout.Variant)
		if err != nil {
			return badRequest("field \"rollout.variant\": %v", err)
		}
		rule.Rollout = &Rollout{Variant: v, Percent: req.Rollout.Percent}
	}
	before, err := h.opts.Store.SetRule(r.Context(), rule, a)
	if err != nil {
		return storeError(err)
	}
	after, err := h.opts.Store.Rule(r.Context(), key)
	if err != nil {
		return err
	}
	h.opts.Logger.Info("flag rule set", zap.String("actor", a.Actor), zap.String("flag", key),
		zap.String("before", string(ruleDoc(before))), zap.String("after", string(ruleDoc(&after))), zap.String("reason", a.Reason))
	writeJSON(w, http.StatusOK, RuleChange{Rule: &after, Before: before})
	return nil
}

func (h *adminHandler) deleteRule(w http.ResponseWriter, r *http.Request, key string) error {
	reason, err := h.deleteReason(w, r)
	if err != nil {
		return err
	}
	a, err := h.audit(r, reason)
	if err != nil {
		return err
	}
	before, err := h.opts.Store.DeleteRule(r.Context(), key, a)
	if err != nil {
		return storeError(err)
	}
	h.opts.Logger.Info("flag rule deleted", zap.String("actor", a.Actor), zap.String("flag", key),
		zap.String("before", string(ruleDoc(&before))), zap.String("reason", a.Reason))
	writeJSON(w, http.StatusOK, RuleChange{Before: &before})
	return nil
}

func (h *adminHandler) putOverride(w http.ResponseWriter, r *http.Request, key, org string) error {
	var req OverrideRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Variant == "" {
		return badRequest("field \"variant\" is required: legacy, shadow, canary or new")
	}
	v, err := ParseMode(req.Variant)
	if err != nil {
		return badRequest("field \"variant\": %v", err)
	}
	a, err := h.audit(r, req.Reason)
	if err != nil {
		return err
	}
	id, slug, err := h.opts.ResolveOrg(r.Context(), org)
	if err != nil {
		if errors.Is(err, ErrOrgNotFound) {
			return notFound("organization %q not found", truncate(org, 64))
		}
		return fmt.Errorf("resolve organization: %w", err)
	}
	o := Override{Flag: key, OrgID: id, OrgSlug: slug, Variant: v}
	before, err := h.opts.Store.SetOverride(r.Context(), o, a)
	if err != nil {
		return storeError(err)
	}
	after, err := h.opts.Store.Overrides(r.Context(), key)
	if err != nil {
		return err
	}
	for i := range after {
		if after[i].OrgID == id {
			o = after[i]
		}
	}
	h.opts.Logger.Info("flag override set", zap.String("actor", a.Actor), zap.String("flag", key),
		zap.String("org_id", id), zap.String("org_slug", slug), zap.String("before", string(overrideDoc(before))),
		zap.String("after", v.String()), zap.String("reason", a.Reason))
	writeJSON(w, http.StatusOK, OverrideChange{Override: &o, Before: before})
	return nil
}

func (h *adminHandler) deleteOverride(w http.ResponseWriter, r *http.Request, key, org string) error {
	reason, err := h.deleteReason(w, r)
	if err != nil {
		return err
	}
	a, err := h.audit(r, reason)
	if err != nil {
		return err
	}
	id, _, err := h.opts.ResolveOrg(r.Context(), org)
	switch {
	case errors.Is(err, ErrOrgNotFound):
		// The organization may be gone while its override remains:
		// let ops remove it by id.
		id = org
	case err != nil:
		return fmt.Errorf("resolve organization: %w", err)
	}
	before, err := h.opts.Store.DeleteOverride(r.Context(), key, id, a)
	if err != nil {
		return storeError(err)
	}
	h.opts.Logger.Info("flag override removed", zap.String("actor", a.Actor), zap.String("flag", key),
		zap.String("org_id", id), zap.String("before", before.Variant.String()), zap.String("reason", a.Reason))
	writeJSON(w, http.StatusOK, OverrideChange{Before: &before})
	return nil
}

// deleteReason reads the reason of a DELETE from ?reason= or a JSON body.
func (h *adminHandler) deleteReason(w http.ResponseWriter, r *http.Request) (string, error) {
	if q := r.URL.Query().Get("reason"); q != "" {
		return q, nil
	}
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return "", badRequest("a reason is required: send {\"reason\": \"...\"} or ?reason=")
	}
	var req ReasonRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return "", err
	}
	return req.Reason, nil
}

func (h *adminHandler) history(w http.ResponseWriter, r *http.Request, key string) error {
	q := r.URL.Query()
	f := HistoryFilter{Flag: key}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return badRequest("query parameter \"limit\" must be a number from 1 to %d", maxHistoryLimit)
		}
		f.Limit = n
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return badRequest("query parameter \"before\" must be a positive entry id")
		}
		f.BeforeID = n
	}
	if org := q.Get("org"); org != "" {
		id, _, err := h.opts.ResolveOrg(r.Context(), org)
		switch {
		case errors.Is(err, ErrOrgNotFound):
			id = org // history outlives organizations
		case err != nil:
			return fmt.Errorf("resolve organization: %w", err)
		}
		f.OrgID = id
	}
	entries, err := h.opts.Store.History(r.Context(), f)
	if err != nil {
		return err
	}
	page := HistoryPage{Entries: entries}
	if len(entries) == clampHistoryLimit(f.Limit) && len(entries) > 0 {
		page.NextBefore = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (h *adminHandler) getKillSwitch(w http.ResponseWriter, r *http.Request) error {
	k, err := h.opts.Store.KillSwitch(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (h *adminHandler) putKillSwitch(w http.ResponseWriter, r *http.Request) error {
	var req KillSwitchRequest
	if err := decodeJSON(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return badRequest("field \"enabled\" is required: false sends every request to legacy")
	}
	a, err := h.audit(r, req.Reason)
	if err != nil {
		return err
	}
	before, err := h.opts.Store.SetKillSwitch(r.Context(), *req.Enabled, a)
	if err != nil {
		return storeError(err)
	}
	after, err := h.opts.Store.KillSwitch(r.Context())
	if err != nil {
		return err
	}
	h.opts.Logger.Warn("kill switch set", zap.String("actor", a.Actor), zap.Bool("before", before.Enabled),
		zap.Bool("enabled", after.Enabled), zap.String("reason", a.Reason))
	writeJSON(w, http.StatusOK, KillSwitchChange{KillSwitch: after, Before: before})
	return nil
}
