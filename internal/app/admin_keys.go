package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/proxy"
	"github.com/7cycles-ai/strangler/tenancy"
)

// Platform-admin views of one organization and its API keys (SPEC §11):
//
//	GET    /admin/api/orgs/{org}                 the org, its projects, member count, API keys
//	GET    /admin/api/orgs/{org}/api-keys        the org's API keys, newest first
//	DELETE /admin/api/orgs/{org}/api-keys/{id}   revoke a key (?reason= or {"reason": ...})
//
// {org} is an org ID or slug; {id} a key's ID or its prefix (sk_live_ and
// 12 characters, as listings show it). Keys are shown by prefix only: the
// store keeps no secret to show. An unknown org or key — or a key of
// another org — is 404 not_found.

// orgDetail is the answer of GET /admin/api/orgs/{org}.
type orgDetail struct {
	Org      tenancy.Org       `json:"org"`
	Projects []tenancy.Project `json:"projects"`
	// MemberCount counts the org's memberships (pending invitations not
	// included).
	MemberCount int              `json:"member_count"`
	APIKeys     []tenancy.APIKey `json:"api_keys"`
}

// orgKeys is the answer of GET /admin/api/orgs/{org}/api-keys.
type orgKeys struct {
	Org     tenancy.Org      `json:"org"`
	APIKeys []tenancy.APIKey `json:"api_keys"`
}

// keyRevoked is the answer of DELETE /admin/api/orgs/{org}/api-keys/{id}.
type keyRevoked struct {
	APIKey tenancy.APIKey `json:"api_key"`
	// AlreadyRevoked is true when the key was revoked before this call:
	// nothing changed and nothing was audited.
	AlreadyRevoked bool `json:"already_revoked"`
}

// Bounds of a revocation request.
const (
	// maxReasonLen bounds the stated reason (bytes), which the audit log keeps.
	maxReasonLen = 1000
	// maxRevokeBody bounds the JSON body of a revocation.
	maxRevokeBody = 16 << 10
)

// org resolves {org}; on failure it has answered.
func (h tenancyAdmin) org(w http.ResponseWriter, r *http.Request) (tenancy.Org, bool) {
	ref := r.PathValue("org")
	o, err := h.dir.lookup(r.Context(), ref)
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "org: no such organization")
		return tenancy.Org{}, false
	case err != nil:
		h.internal(w, r, "look up organization", err)
		return tenancy.Org{}, false
	}
	return o, true
}

// internal logs err and answers 500 without details.
func (h tenancyAdmin) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.logger().Error("admin api: "+what, zap.String("path", r.URL.Path), zap.Error(err))
	writeError(w, r, http.StatusInternalServerError, "internal", what+" failed")
}

func (h tenancyAdmin) logger() *zap.Logger {
	if h.log == nil {
		return zap.NewNop()
	}
	return h.log
}

// orgShow is GET /admin/api/orgs/{org}.
func (h tenancyAdmin) orgShow(w http.ResponseWriter, r *http.Request) {
	o, ok := h.org(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	projects, err := h.store.ListProjects(ctx, o.ID)
	if err != nil {
		h.internal(w, r, "list projects", err)
		return
	}
	members, err := h.store.ListMembers(ctx, o.ID)
	if err != nil {
		h.internal(w, r, "list members", err)
		return
	}
	keys, err := h.store.ListAPIKeys(ctx, o.ID)
	if err != nil {
		h.internal(w, r, "list api keys", err)
		return
	}
	writeJSON(w, http.StatusOK, orgDetail{Org: o, Projects: nonNilSlice(projects), MemberCount: len(members), APIKeys: nonNilSlice(keys)})
}

// orgKeyList is GET /admin/api/orgs/{org}/api-keys.
func (h tenancyAdmin) orgKeyList(w http.ResponseWriter, r *http.Request) {
	o, ok := h.org(w, r)
	if !ok {
		return
	}
	keys, err := h.store.ListAPIKeys(r.Context(), o.ID)
	if err != nil {
		h.internal(w, r, "list api keys", err)
		return
	}
	writeJSON(w, http.StatusOK, orgKeys{Org: o, APIKeys: nonNilSlice(keys)})
}

// revokeKey is DELETE /admin/api/orgs/{org}/api-keys/{id}: the key is
// refused by every replica within a second (the authentication caches
// follow the store's change feed). The revocation is audited in the org's
// log with the admin as actor, the key before and after, and the reason.
// Revoking a revoked key changes and audits nothing.
func (h tenancyAdmin) revokeKey(w http.ResponseWriter, r *http.Request) {
	reason, field, msg := parseRevokeReason(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, "bad_request", field+": "+msg)
		return
	}
	ref, msg := parseKeyRef(r.PathValue("id"))
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, "bad_request", "id: "+msg)
		return
	}
	o, ok := h.org(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	before, err := h.findKey(ctx, o.ID, ref)
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "api key: no such key in organization "+o.Slug)
		return
	case err != nil:
		h.internal(w, r, "look up api key", err)
		return
	}
	if !before.RevokedAt.IsZero() {
		writeJSON(w, http.StatusOK, keyRevoked{APIKey: before, AlreadyRevoked: true})
		return
	}
	after, err := h.store.RevokeAPIKey(ctx, o.ID, before.ID)
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "api key: no such key in organization "+o.Slug)
		return
	case err != nil:
		h.internal(w, r, "revoke api key", err)
		return
	}
	h.record(ctx, r, tenancy.AuditEntry{
		OrgID: o.ID, Action: tenancy.AuditAPIKeyRevoke, TargetType: "api_key", TargetID: after.ID,
		Before: mustJSON(before), After: mustJSON(after), Reason: reason,
	})
	writeJSON(w, http.StatusOK, keyRevoked{APIKey: after})
}

// findKey returns the org's key by ID or prefix; a key of another org is
// ErrNotFound, as a missing one.
func (h tenancyAdmin) findKey(ctx context.Context, orgID string, ref keyRef) (tenancy.APIKey, error) {
	if ref.id != "" {
		return h.store.GetAPIKey(ctx, orgID, ref.id)
	}
	k, err := h.store.GetAPIKeyByPrefix(ctx, ref.prefix)
	if err != nil {
		return tenancy.APIKey{}, err
	}
	if k.OrgID != orgID {
		return tenancy.APIKey{}, fmt.Errorf("api key %s: %w", ref.prefix, tenancy.ErrNotFound)
	}
	return k, nil
}

// record appends an admin change to the audit log. The actor is the
// admin API credential (actorFrom); a platform-admin user is recorded by
// user ID so that filtering the log by that user finds it. The change has
// committed: a failed append is logged, not answered.
func (h tenancyAdmin) record(ctx context.Context, r *http.Request, e tenancy.AuditEntry) {
	actor := actorFrom(ctx)
	e.Actor, e.ActorType, e.ActorID = actor, adminActorType(actor), actor
	if email, ok := strings.CutPrefix(actor, "user:"); ok {
		if u, err := h.store.GetUserByEmail(ctx, email); err == nil {
			e.ActorID = u.ID
		}
	}
	e.RequestID = proxy.RequestIDFromContext(ctx)
	e.ClientIP = remoteIP(r)
	if err := h.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		h.logger().Error("audit entry not written", zap.String("action", e.Action), zap.String("org_id", e.OrgID),
			zap.String("target_id", e.TargetID), zap.String("actor", actor), zap.Error(err))
	}
}

// keyRef is a parsed {id}: an API key's ID or its lookup prefix.
type keyRef struct {
	id     string
	prefix string
}

// apiKeyPrefixLen is the length of a key's stored prefix: "sk_live_" and
// 12 base62 characters.
const apiKeyPrefixLen = len(tenancy.APIKeyPrefix) + 12

// parseKeyRef reads {id}: a UUID or a key prefix. A whole key is refused —
// its secret does not belong in a URL or an access log.
func parseKeyRef(s string) (keyRef, string) {
	if u, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return keyRef{id: u.String()}, ""
	}
	if !strings.HasPrefix(s, tenancy.APIKeyPrefix) {
		return keyRef{}, "must be an API key ID (a UUID) or prefix (" + tenancy.APIKeyPrefix + "...)"
	}
	if len(s) == tenancy.APIKeyLen {
		return keyRef{}, "send the key's ID or prefix, never the whole key"
	}
	if len(s) != apiKeyPrefixLen {
		return keyRef{}, fmt.Sprintf("a key prefix is %s and 12 characters", tenancy.APIKeyPrefix)
	}
	for i := len(tenancy.APIKeyPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return keyRef{}, fmt.Sprintf("a key prefix is %s and 12 characters", tenancy.APIKeyPrefix)
		}
	}
	return keyRef{prefix: s}, ""
}

// revokeBody is the optional JSON body of a revocation.
type revokeBody struct {
	Reason string `json:"reason"`
}

// parseRevokeReason reads the required reason of a revocation from
// ?reason= or a JSON body {"reason": "..."} (not both). It returns the
// reason with surrounding space trimmed, or the offending field and why.
func parseRevokeReason(r *http.Request) (reason, field, msg string) {
	q := r.URL.Query()
	fromQuery, inQuery := q["reason"]
	if len(fromQuery) > 1 {
		return "", "reason", "given more than once"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRevokeBody+1))
	if err != nil {
		return "", "body", "could not be read"
	}
	if len(body) > maxRevokeBody {
		return "", "body", fmt.Sprintf("larger than %d bytes", maxRevokeBody)
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) > 0 && inQuery:
		return "", "reason", "give it in the query or in the body, not both"
	case len(body) > 0:
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var b revokeBody
		if err := dec.Decode(&b); err != nil {
			return "", "body", `must be a JSON object {"reason": "..."}`
		}
		if dec.More() {
			return "", "body", "must hold one JSON object"
		}
		reason = b.Reason
	case inQuery:
		reason = fromQuery[0]
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", "reason", "required: say why the key is revoked, it goes into the audit log"
	case len(reason) > maxReasonLen:
		return "", "reason", fmt.Sprintf("at most %d bytes", maxReasonLen)
	case !utf8.ValidString(reason):
		return "", "reason", "must be UTF-8 text"
	case strings.ContainsFunc(reason, isControl):
		return "", "reason", "must not contain control characters"
	}
	return reason, "", ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// remoteIP is the admin caller's address (the admin listener is not
// behind the proxy pipeline: no forwarded headers are trusted).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return ip.Unmap().WithZone("").String()
}

// mustJSON marshals a snapshot for the audit log (the types passed carry
// no secrets: hashes are json:"-").
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// nonNilSlice answers [] rather than null.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
