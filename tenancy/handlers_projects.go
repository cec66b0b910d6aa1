package tenancy

import (
	"context"
	"errors"
	"net/http"
)

// projectRequest is the body of POST /orgs/{org}/projects.
type projectRequest struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func parseProjectCreate(body []byte) (projectRequest, *apiError) {
	req, e := decodeStrict[projectRequest](body)
	if e != nil {
		return req, e
	}
	if req.Slug == "" {
		return req, badRequest("slug", "is required")
	}
	if e = checkSlug("slug", req.Slug); e != nil {
		return req, e
	}
	if req.Name, e = normalizeName("name", req.Name); e != nil {
		return req, e
	}
	return req, nil
}

// listProjects lists the org's projects [read].
func (h *Handlers) listProjects(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permRead)
	if !ok {
		return
	}
	ps, err := h.store.ListProjects(c.storeCtx(r.Context()), a.org.OrgID)
	if err != nil {
		h.fail(w, r, errInternal(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": ps})
}

// postProject creates a project [projects.manage].
func (h *Handlers) postProject(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permProjectsManage)
	if !ok {
		return
	}
	req, ok := decodeBody(h, w, r, parseProjectCreate)
	if !ok {
		return
	}
	ctx := r.Context()
	p, err := h.store.CreateProject(c.storeCtx(ctx), Project{OrgID: a.org.OrgID, Slug: req.Slug, Name: req.Name})
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("slug", "slug: already taken in this organization"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "organization not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: p.OrgID, action: AuditProjectCreate, targetType: auditTargetProject,
		targetID: p.ID, after: p})
	writeJSON(w, http.StatusCreated, p)
}

// project finds {project} (ID or slug) in the org: 404 when it is not the
// org's.
func (h *Handlers) project(ctx context.Context, orgID, ref string) (Project, *apiError) {
	ref, ok := normRef(ref)
	if !ok {
		return Project{}, errNotFound("project not found")
	}
	var (
		p   Project
		err error
	)
	if isIDRef(ref) {
		p, err = h.store.GetProject(ctx, orgID, ref)
	} else {
		p, err = h.store.GetProjectBySlug(ctx, orgID, ref)
	}
	if err != nil {
		return Project{}, notFoundOr(err, "project not found")
	}
	return p, nil
}

// getProject shows one project [read].
func (h *Handlers) getProject(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permRead)
	if !ok {
		return
	}
	p, e := h.project(c.storeCtx(r.Context()), a.org.OrgID, r.PathValue("project"))
	if e != nil {
		h.fail(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// patchProject renames a project or changes its slug [projects.manage].
func (h *Handlers) patchProject(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permProjectsManage)
	if !ok {
		return
	}
	req, ok := decodeBody(h, w, r, parsePatch)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, e := h.project(sctx, a.org.OrgID, r.PathValue("project"))
	if e != nil {
		h.fail(w, r, e)
		return
	}
	after, err := h.store.UpdateProject(sctx, a.org.OrgID, before.ID, ProjectPatch{Slug: req.Slug, Name: req.Name})
	switch {
	case errors.Is(err, ErrConflict):
		h.fail(w, r, errConflict("slug", "slug: already taken in this organization"))
		return
	case err != nil:
		h.fail(w, r, notFoundOr(err, "project not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: after.OrgID, action: AuditProjectUpdate, targetType: auditTargetProject,
		targetID: after.ID, before: before, after: after})
	writeJSON(w, http.StatusOK, after)
}

// deleteProject deletes a project, its project memberships and the API
// keys bound to it [projects.manage].
func (h *Handlers) deleteProject(w http.ResponseWriter, r *http.Request) {
	c, a, ok := h.orgCaller(w, r, permProjectsManage)
	if !ok {
		return
	}
	ctx := r.Context()
	sctx := c.storeCtx(ctx)
	before, e := h.project(sctx, a.org.OrgID, r.PathValue("project"))
	if e != nil {
		h.fail(w, r, e)
		return
	}
	if err := h.store.DeleteProject(sctx, a.org.OrgID, before.ID); err != nil {
		h.fail(w, r, notFoundOr(err, "project not found"))
		return
	}
	h.audit.record(ctx, r, c.who, auditEvent{orgID: before.OrgID, action: AuditProjectDelete, targetType: auditTargetProject,
		targetID: before.ID, before: before})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
