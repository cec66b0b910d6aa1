package shadow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// AdminPathPrefix is where the shadow endpoints live on the admin listener.
const AdminPathPrefix = "/admin/api/shadow/"

// maxNoteLen bounds an acknowledgement note.
const maxNoteLen = 2000

// AdminOptions configure the shadow endpoints of the admin API.
type AdminOptions struct {
	// Store holds the shadow results. Required.
	Store Store
	// Readiness are the verdict's thresholds (shadow.readiness); the zero
	// value means the configuration's defaults.
	Readiness config.Readiness
	// Actor names the authenticated caller (admin token name, platform
	// admin's email); it is recorded with every acknowledgement. The admin
	// listener authenticates before this handler runs; an empty actor is
	// refused with 401 on POST, so no class is acknowledged anonymously.
	// Required.
	Actor func(ctx context.Context) string
	// Modes lists the organizations in shadow or canary mode per route,
	// for GET rollout. Nil: that endpoint answers 501.
	Modes ModeLister
	// Orgs resolves the org query parameter (id or slug) and labels
	// reports with slugs. Nil: org parameters are taken as ids and
	// reports show ids only.
	Orgs OrgDirectory
	// Audit, when set, records every acknowledgement and reopening (wire it
	// to the tenancy audit log). The class record keeps the latest
	// acknowledgement (who, when, note) either way.
	Audit AckAuditor
	// RequestID returns the request id for error bodies. Default: the
	// X-Request-ID header, or a new UUID.
	RequestID func(*http.Request) string
	// Now is the clock of relative periods ("since 24h") and of
	// acknowledgements. Default time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds request bodies. Default 16 KiB.
	MaxBodyBytes int64
	// Logger records acknowledgements and failures. Default: no-op.
	Logger *zap.Logger
}

// adminHandler serves:
//
//	GET  /admin/api/shadow/report                         ?org=&route=&since=&until=&top=
//	GET  /admin/api/shadow/rollout?route=R                ?since=&until=&top=
//	GET  /admin/api/shadow/classes                        ?org=&route=&since=&until=&status=&limit=
//	GET  /admin/api/shadow/classes/{fingerprint}
//	POST /admin/api/shadow/classes/{fingerprint}/ack      {"note": "..."}
//	POST /admin/api/shadow/classes/{fingerprint}/reopen   {"note": "..."}
type adminHandler struct {
	opts     AdminOptions
	reporter *Reporter
}

// NewAdminHandler returns the shadow endpoints of the admin API. It serves
// full paths: mount it for AdminPathPrefix behind the admin
// authentication.
func NewAdminHandler(opts AdminOptions) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("shadow admin handler: store is required")
	}
	if opts.Actor == nil {
		return nil, errors.New("shadow admin handler: actor function is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestID == nil {
		opts.RequestID = requestIDFromHeader
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 10
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	rep, err := NewReporter(opts.Store, ReporterOptions{Readiness: opts.Readiness, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("shadow admin handler: %w", err)
	}
	return &adminHandler{opts: opts, reporter: rep}, nil
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := h.opts.RequestID(r)
	if err := h.route(w, r); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			h.opts.Logger.Error("shadow admin API failed", zap.String("request_id", reqID),
				zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
			ae = &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error; see the server log"}
		}
		writeError(w, reqID, ae)
	}
}

// Query parameters accepted by each endpoint.
var (
	reportParams  = []string{ParamOrg, ParamRoute, ParamSince, ParamUntil, ParamTop}
	rolloutParams = []string{ParamRoute, ParamSince, ParamUntil, ParamTop}
	classesParams = []string{ParamOrg, ParamRoute, ParamSince, ParamUntil, ParamStatus, ParamLimit}
)

// route dispatches on the path segments after AdminPathPrefix.
func (h *adminHandler) route(w http.ResponseWriter, r *http.Request) error {
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
	get := func(f func(http.ResponseWriter, *http.Request) error) error {
		if r.Method != http.MethodGet {
			return methodNotAllowed("GET")
		}
		return f(w, r)
	}
	switch {
	case len(seg) == 1 && seg[0] == "report":
		return get(h.report)
	case len(seg) == 1 && seg[0] == "rollout":
		return get(h.rollout)
	case len(seg) == 1 && seg[0] == "classes":
		return get(h.classes)
	case len(seg) >= 2 && seg[0] == "classes":
		fp := strings.ToLower(seg[1])
		if !ValidFingerprint(fp) {
			return badRequest("fingerprint %q is not %d hexadecimal digits", truncateText(seg[1], 64), FingerprintLen)
		}
		switch {
		case len(seg) == 2:
			return get(func(w http.ResponseWriter, r *http.Request) error { return h.class(w, r, fp) })
		case len(seg) == 3 && (seg[2] == "ack" || seg[2] == "reopen"):
			if r.Method != http.MethodPost {
				return methodNotAllowed("POST")
			}
			return h.setStatus(w, r, fp, seg[2] == "ack")
		}
	}
	return notFound("no such endpoint")
}

// query parses the request's query string.
func (h *adminHandler) query(r *http.Request, allowed []string) (Query, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Query{}, badRequest("malformed query string: %v", err)
	}
	q, err := ParseQuery(v, allowed, h.opts.Now())
	if err != nil {
		return Query{}, badRequest("%v", err)
	}
	return q, nil
}

// resolveOrg maps the org parameter to an id. An unknown organization is
// taken verbatim: shadow results outlive the organizations they belong to.
func (h *adminHandler) resolveOrg(ctx context.Context, org string) (id, slug string, err error) {
	if org == "" || h.opts.Orgs == nil {
		return org, "", nil
	}
	id, slug, err = h.opts.Orgs.ResolveOrg(ctx, org)
	switch {
	case errors.Is(err, ErrOrgNotFound):
		return org, "", nil
	case err != nil:
		return "", "", fmt.Errorf("resolve organization: %w", err)
	}
	return id, slug, nil
}

// slugs labels organization ids; a failure only costs the labels.
func (h *adminHandler) slugs(ctx context.Context, ids []string) map[string]string {
	if h.opts.Orgs == nil || len(ids) == 0 {
		return nil
	}
	m, err := h.opts.Orgs.OrgSlugs(ctx, ids)
	if err != nil {
		h.opts.Logger.Warn("shadow admin API: cannot label organizations", zap.Error(err))
		return nil
	}
	return m
}

func (h *adminHandler) report(w http.ResponseWriter, r *http.Request) error {
	q, err := h.query(r, reportParams)
	if err != nil {
		return err
	}
	org, slug, err := h.resolveOrg(r.Context(), q.Org)
	if err != nil {
		return err
	}
	rep, err := h.reporter.Report(r.Context(), ReportFilter{OrgID: org, Route: q.Route, Since: q.Since, Until: q.Until, TopClasses: topOf(q)})
	if err != nil {
		return err
	}
	rep.OrgSlug = slug
	rep.LabelOrgs(h.slugs(r.Context(), rep.OrgIDs()))
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func topOf(q Query) int {
	switch {
	case q.Top < 0:
		return 0 // the default
	case q.Top == 0:
		return -1 // none
	}
	return q.Top
}

func (h *adminHandler) rollout(w http.ResponseWriter, r *http.Request) error {
	q, err := h.query(r, rolloutParams)
	if err != nil {
		return err
	}
	if q.Route == "" {
		return badRequest("query parameter %q is required: the route group whose rollout to show", ParamRoute)
	}
	if h.opts.Modes == nil {
		return &apiError{status: http.StatusNotImplemented, code: codeNotImplemented,
			message: "the rollout overview needs the organizations' modes, which this server does not provide"}
	}
	orgs, err := h.opts.Modes.OrgsInModes(r.Context(), q.Route)
	if err != nil {
		return fmt.Errorf("list organizations in shadow or canary: %w", err)
	}
	rep, err := h.reporter.Rollout(r.Context(), q.Route, orgs, ReportFilter{Since: q.Since, Until: q.Until, TopClasses: topOf(q)})
	if err != nil {
		return err
	}
	rep.LabelOrgs(h.slugs(r.Context(), rep.OrgIDs()))
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (h *adminHandler) classes(w http.ResponseWriter, r *http.Request) error {
	q, err := h.query(r, classesParams)
	if err != nil {
		return err
	}
	org, _, err := h.resolveOrg(r.Context(), q.Org)
	if err != nil {
		return err
	}
	limit := q.Limit
	if limit == 0 {
		limit = MaxClassLimit
	}
	cs, err := h.opts.Store.Classes(r.Context(), ClassFilter{OrgID: org, Route: q.Route, Status: q.Status, Since: q.Since, Until: q.Until, Limit: limit})
	if err != nil {
		return err
	}
	list := ClassList{Until: h.opts.Now().UTC(), Classes: normClasses(cs)}
	if !q.Since.IsZero() {
		list.Since = hourOf(q.Since)
	}
	if !q.Until.IsZero() {
		list.Until = q.Until
	}
	list.OrgSlugs = h.slugs(r.Context(), classOrgIDs(list.Classes))
	writeJSON(w, http.StatusOK, list)
	return nil
}

// normClasses makes empty lists [] rather than null.
func normClasses(cs []Class) []Class {
	if cs == nil {
		return []Class{}
	}
	for i := range cs {
		if cs[i].Orgs == nil {
			cs[i].Orgs = []OrgCount{}
		}
		if cs[i].Pattern == nil {
			cs[i].Pattern = []PathKind{}
		}
	}
	return cs
}

func classOrgIDs(cs []Class) []string {
	seen := make(map[string]bool)
	var ids []string
	for _, c := range cs {
		for _, o := range c.Orgs {
			if o.OrgID != "" && !seen[o.OrgID] {
				seen[o.OrgID] = true
				ids = append(ids, o.OrgID)
			}
		}
	}
	return ids
}

func (h *adminHandler) class(w http.ResponseWriter, r *http.Request, fp string) error {
	if r.URL.RawQuery != "" {
		if _, err := h.query(r, nil); err != nil {
			return err
		}
	}
	d, err := h.opts.Store.Class(r.Context(), fp)
	if errors.Is(err, ErrNotFound) {
		return notFound("no diff class %s (it may have aged out of retention)", fp)
	}
	if err != nil {
		return err
	}
	d.Class = normClasses([]Class{d.Class})[0]
	if d.Exemplars == nil {
		d.Exemplars = []Exemplar{}
	}
	if d.Noise == nil {
		d.Noise = []NoisePath{}
	}
	v := ClassView{ClassDetail: d, OrgSlugs: h.slugs(r.Context(), classOrgIDs([]Class{d.Class}))}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// setStatus acknowledges (ack) or reopens a class, with the caller and a
// note, and audits it.
func (h *adminHandler) setStatus(w http.ResponseWriter, r *http.Request, fp string, ack bool) error {
	actor := strings.TrimSpace(h.opts.Actor(r.Context()))
	if actor == "" {
		return errNoActor
	}
	if r.URL.RawQuery != "" {
		return badRequest("this endpoint takes no query parameters; send {\"note\": \"...\"}")
	}
	var req AckRequest
	if err := decodeBody(w, r, h.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	note := strings.TrimSpace(req.Note)
	switch {
	case note == "" && ack:
		return badRequest("field \"note\" is required: say why this difference is acceptable; it is kept with the class and audited")
	case note == "":
		return badRequest("field \"note\" is required: say why the class is open again; it is audited")
	case utf8.RuneCountInString(note) > maxNoteLen:
		return badRequest("field \"note\" is longer than %d characters", maxNoteLen)
	case strings.ContainsFunc(note, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }):
		return badRequest("field \"note\" must not contain control characters")
	}
	ctx := r.Context()
	before, err := h.opts.Store.Class(ctx, fp)
	if errors.Is(err, ErrNotFound) {
		return notFound("no diff class %s (it may have aged out of retention)", fp)
	}
	if err != nil {
		return err
	}
	now := h.opts.Now().UTC()
	var c Class
	action := AuditActionAck
	if ack {
		c, err = h.opts.Store.Ack(ctx, fp, Ack{Note: note, By: actor, At: now})
	} else {
		action = AuditActionReopen
		c, err = h.opts.Store.Reopen(ctx, fp)
	}
	if errors.Is(err, ErrNotFound) {
		return notFound("no diff class %s (it may have aged out of retention)", fp)
	}
	if err != nil {
		return err
	}
	ev := AckEvent{Action: action, Fingerprint: fp, Route: c.Route, Actor: actor, Note: note, At: now,
		Before: before.Status, After: c.Status, OrgIDs: []string{}}
	for _, o := range c.Orgs {
		ev.OrgIDs = append(ev.OrgIDs, o.OrgID)
	}
	msg := "shadow diff class reopened"
	if ack {
		msg = "shadow diff class acknowledged"
	}
	h.opts.Logger.Info(msg, zap.String("actor", actor), zap.String("fingerprint", fp), zap.String("route", c.Route),
		zap.String("before", string(ev.Before)), zap.String("note", note))
	if h.opts.Audit != nil {
		if err := h.opts.Audit(ctx, ev); err != nil {
			return fmt.Errorf("audit %s of class %s (the class was changed): %w", action, fp, err)
		}
	}
	writeJSON(w, http.StatusOK, normClasses([]Class{c})[0])
	return nil
}
