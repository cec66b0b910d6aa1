package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

func TestAdminViewsMemory(t *testing.T) {
	t.Parallel()
	exerciseAdminViews(t, startApp(t, "memory", ""))
}

func TestAdminViewsPostgres(t *testing.T) {
	t.Parallel()
	_, appURL := pgtest.Migrated(t)
	exerciseAdminViews(t, startApp(t, "postgres", appURL))
}

// apiErr is the SPEC §5 error shape.
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeErr(t *testing.T, body string) apiErr {
	t.Helper()
	var e apiErr
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error.Code, body)
	return e
}

// exerciseAdminViews walks what a platform admin does: list and inspect
// orgs, revoke a leaked key, read the audit log.
func exerciseAdminViews(t *testing.T, r *running) {
	ctx := context.Background()
	alice := r.login(t, "alice@acme.test") // platform admin
	bob := r.login(t, "bob@acme.test")     // not one

	// Every view needs a platform admin's credential.
	for _, ep := range []struct{ method, path string }{
		{"GET", "/admin/api/orgs"}, {"GET", "/admin/api/orgs/acme"}, {"GET", "/admin/api/orgs/acme/api-keys"},
		{"DELETE", "/admin/api/orgs/acme/api-keys/sk_live_AAAAAAAAAAAA?reason=x"}, {"GET", "/admin/api/audit"},
	} {
		code, body := r.do(t, ep.method, r.admin+ep.path, "", "")
		assert.Equal(t, http.StatusUnauthorized, code, "%s %s: %s", ep.method, ep.path, body)
		assert.Equal(t, "unauthenticated", decodeErr(t, body).Error.Code)
		code, _ = r.do(t, ep.method, r.admin+ep.path, "not-the-token", "")
		assert.Equal(t, http.StatusUnauthorized, code, "%s %s", ep.method, ep.path)
		code, body = r.do(t, ep.method, r.admin+ep.path, bob, "")
		assert.Equal(t, http.StatusForbidden, code, "%s %s: %s", ep.method, ep.path, body)
	}

	// Orgs, paged by slug.
	var orgs struct{ Orgs []tenancy.Org }
	code, body := r.do(t, "GET", r.admin+"/admin/api/orgs?limit=1", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &orgs))
	require.Len(t, orgs.Orgs, 1)
	assert.Equal(t, "acme", orgs.Orgs[0].Slug)
	acmeID := orgs.Orgs[0].ID
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs?limit=5&after=acme", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &orgs))
	require.Len(t, orgs.Orgs, 1)
	assert.Equal(t, "legacy", orgs.Orgs[0].Slug)
	legacyID := orgs.Orgs[0].ID
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs?limit=0", testAdminToken, "")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, decodeErr(t, body).Error.Message, "limit")

	// One org by slug or id: projects, member count, keys by prefix only.
	seeded := r.app.Seeded.APIKeys[0]
	for _, ref := range []string{"acme", "ACME", acmeID} {
		code, body = r.do(t, "GET", r.admin+"/admin/api/orgs/"+ref, alice, "")
		require.Equal(t, http.StatusOK, code, body)
		var d orgDetail
		require.NoError(t, json.Unmarshal([]byte(body), &d))
		assert.Equal(t, acmeID, d.Org.ID)
		require.Len(t, d.Projects, 1)
		assert.Equal(t, "web", d.Projects[0].Slug)
		assert.Equal(t, 2, d.MemberCount)
		require.Len(t, d.APIKeys, 1)
		assert.Equal(t, seeded.Prefix, d.APIKeys[0].Prefix)
		assert.NotContains(t, body, seeded.Key, "never a secret")
		assert.NotContains(t, body, `"hash"`)
	}
	for _, ref := range []string{"globex", "00000000-0000-4000-8000-000000000000", "%2e%2e", strings.Repeat("a", 300)} {
		code, body = r.do(t, "GET", r.admin+"/admin/api/orgs/"+ref, testAdminToken, "")
		assert.Equal(t, http.StatusNotFound, code, "%s: %s", ref, body)
		code, body = r.do(t, "GET", r.admin+"/admin/api/orgs/"+ref+"/api-keys", testAdminToken, "")
		assert.Equal(t, http.StatusNotFound, code, "%s: %s", ref, body)
	}
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs/globex", testAdminToken, "")
	assert.Equal(t, "not_found", decodeErr(t, body).Error.Code)

	var keys orgKeys
	code, body = r.do(t, "GET", r.admin+"/admin/api/orgs/acme/api-keys", testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &keys))
	require.Len(t, keys.APIKeys, 1)
	keyID := keys.APIKeys[0].ID
	assert.Equal(t, "ci", keys.APIKeys[0].Name)
	assert.NotContains(t, body, seeded.Key)

	// Bad revocations change nothing.
	legacyKey, legacyPrefix := createKey(t, r, legacyID, "legacy-ci")
	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/admin/api/orgs/acme/api-keys/" + keyID, "", 400, "reason: required"},
		{"/admin/api/orgs/acme/api-keys/" + keyID + "?reason=%20%20", "", 400, "reason: required"},
		{"/admin/api/orgs/acme/api-keys/" + keyID + "?reason=a&reason=b", "", 400, "reason: given more than once"},
		{"/admin/api/orgs/acme/api-keys/" + keyID + "?reason=a", `{"reason":"b"}`, 400, "not both"},
		{"/admin/api/orgs/acme/api-keys/" + keyID, `{"reason":"x","extra":1}`, 400, "body:"},
		{"/admin/api/orgs/acme/api-keys/not-a-key?reason=x", "", 400, "id: must be an API key ID"},
		{"/admin/api/orgs/acme/api-keys/" + seeded.Key + "?reason=x", "", 400, "id: send the key's ID or prefix, never the whole key"},
		{"/admin/api/orgs/acme/api-keys/00000000-0000-4000-8000-000000000000?reason=x", "", 404, "no such key"},
		{"/admin/api/orgs/acme/api-keys/" + legacyPrefix + "?reason=x", "", 404, "no such key"},
		{"/admin/api/orgs/legacy/api-keys/" + keyID + "?reason=x", "", 404, "no such key"},
		{"/admin/api/orgs/globex/api-keys/" + keyID + "?reason=x", "", 404, "no such organization"},
	} {
		code, body := r.do(t, "DELETE", r.admin+c.path, testAdminToken, c.body)
		assert.Equal(t, c.status, code, "%s %s: %s", c.path, c.body, body)
		assert.Contains(t, decodeErr(t, body).Error.Message, c.msg, c.path)
	}
	code, _ = r.do(t, "GET", r.public+"/api/affirmations", legacyKey, "")
	assert.Equal(t, http.StatusOK, code, "the other org's key still works")

	// The seeded key works; revoked by the bootstrap token, it is refused
	// on the public listener within 1 s.
	code, _ = r.do(t, "GET", r.public+"/api/affirmations", seeded.Key, "")
	require.Equal(t, http.StatusOK, code)
	code, body = r.do(t, "DELETE", r.admin+"/admin/api/orgs/acme/api-keys/"+keyID+"?reason="+url.QueryEscape("leaked in a CI log"), testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	var rv keyRevoked
	require.NoError(t, json.Unmarshal([]byte(body), &rv))
	assert.False(t, rv.AlreadyRevoked)
	assert.False(t, rv.APIKey.RevokedAt.IsZero())
	assert.NotContains(t, body, seeded.Key)
	assert.Eventually(t, func() bool {
		code, _ := r.do(t, "GET", r.public+"/api/affirmations", seeded.Key, "")
		return code == http.StatusUnauthorized
	}, time.Second, 10*time.Millisecond, "a revoked key is refused within 1 s")

	// Revoking it again changes and audits nothing.
	code, body = r.do(t, "DELETE", r.admin+"/admin/api/orgs/"+acmeID+"/api-keys/"+keyID, testAdminToken, `{"reason":"again"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &rv))
	assert.True(t, rv.AlreadyRevoked)

	// The revocation is in the audit log: actor, before, after, reason.
	page := auditPage(t, r, "org=acme&action=api_key.revoke")
	require.Len(t, page.Entries, 1, "one revocation, one entry")
	e := page.Entries[0]
	assert.Equal(t, acmeID, e.OrgID)
	assert.Equal(t, tenancy.ActorAdminToken, e.ActorType)
	assert.Equal(t, "admin:bootstrap-token", e.Actor)
	assert.Equal(t, "api_key", e.TargetType)
	assert.Equal(t, keyID, e.TargetID)
	assert.Equal(t, "leaked in a CI log", e.Reason)
	assert.NotContains(t, string(e.Before), "revoked_at")
	assert.Contains(t, string(e.After), "revoked_at")
	assert.Contains(t, string(e.After), seeded.Prefix)
	assert.Equal(t, "127.0.0.1", e.ClientIP)

	// A platform-admin user revokes by prefix with a JSON body; the entry
	// names the user, and filtering by the user's email finds it.
	code, body = r.do(t, "DELETE", r.admin+"/admin/api/orgs/legacy/api-keys/"+legacyPrefix, alice, `{"reason":"offboarding"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Eventually(t, func() bool {
		code, _ := r.do(t, "GET", r.public+"/api/affirmations", legacyKey, "")
		return code == http.StatusUnauthorized
	}, time.Second, 10*time.Millisecond)
	aliceUser, err := r.app.Tenancy.GetUserByEmail(ctx, "alice@acme.test")
	require.NoError(t, err)
	for _, actor := range []string{"alice@acme.test", "user:alice@acme.test", aliceUser.ID} {
		page = auditPage(t, r, "action=api_key.revoke&actor="+url.QueryEscape(actor))
		require.Len(t, page.Entries, 1, actor)
		assert.Equal(t, "user:alice@acme.test", page.Entries[0].Actor)
		assert.Equal(t, tenancy.ActorUser, page.Entries[0].ActorType)
		assert.Equal(t, legacyID, page.Entries[0].OrgID)
		assert.Equal(t, "offboarding", page.Entries[0].Reason)
	}

	// Filters.
	assert.Len(t, auditPage(t, r, "action=api_key.revoke").Entries, 2)
	assert.Len(t, auditPage(t, r, "action=api_key.revoke&actor=admin:bootstrap-token").Entries, 1)
	assert.Empty(t, auditPage(t, r, "action=api_key.revoke&actor=nobody@acme.test").Entries)
	assert.Len(t, auditPage(t, r, "org=legacy&action=api_key.revoke").Entries, 1)
	assert.Len(t, auditPage(t, r, "target_type=api_key&target_id="+keyID).Entries, 1)
	assert.Len(t, auditPage(t, r, "action=api_key.revoke&since=1h").Entries, 2)
	assert.Empty(t, auditPage(t, r, "action=api_key.revoke&until=2000-01-01").Entries)
	first := auditPage(t, r, "action=api_key.revoke&limit=1")
	require.Len(t, first.Entries, 1)
	require.NotEmpty(t, first.NextCursor)
	assert.Equal(t, "offboarding", first.Entries[0].Reason, "newest first")
	next := auditPage(t, r, "action=api_key.revoke&limit=1&cursor="+first.NextCursor)
	require.Len(t, next.Entries, 1)
	assert.Equal(t, "leaked in a CI log", next.Entries[0].Reason)

	for q, param := range map[string]string{
		"since=yesterday": "since", "until=soon": "until", "limit=501": "limit", "limit=x": "limit",
		"cursor=abc": "cursor", "since=2000-01-02&until=2000-01-01": "since",
	} {
		code, body := r.do(t, "GET", r.admin+"/admin/api/audit?"+q, testAdminToken, "")
		assert.Equal(t, http.StatusBadRequest, code, "%s: %s", q, body)
		assert.True(t, strings.HasPrefix(decodeErr(t, body).Error.Message, param+":"), "%s: %s", q, body)
	}
	code, body = r.do(t, "GET", r.admin+"/admin/api/audit?org=globex", testAdminToken, "")
	assert.Equal(t, http.StatusNotFound, code, body)
}

func auditPage(t *testing.T, r *running, query string) tenancy.AuditPage {
	t.Helper()
	code, body := r.do(t, "GET", r.admin+"/admin/api/audit?"+query, testAdminToken, "")
	require.Equal(t, http.StatusOK, code, body)
	var p tenancy.AuditPage
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	return p
}

// createKey stores a new key of the org and returns its plaintext and prefix.
func createKey(t *testing.T, r *running, orgID, name string) (string, string) {
	t.Helper()
	secret, prefix, hash := tenancy.GenerateAPIKey()
	_, err := r.app.Tenancy.CreateAPIKey(context.Background(), tenancy.APIKey{
		OrgID: orgID, Name: name, Prefix: prefix, Hash: hash, Role: tenancy.RoleMember, Scopes: []string{"read"},
	})
	require.NoError(t, err)
	return secret, prefix
}

func revokeRequest(query, body string) *http.Request {
	return httptest.NewRequest("DELETE", "/admin/api/orgs/acme/api-keys/x"+query, strings.NewReader(body))
}

func TestParseRevokeReason(t *testing.T) {
	long := strings.Repeat("x", maxReasonLen)
	tests := []struct {
		name, query, body string
		reason, field     string
	}{
		{"query", "?reason=leaked", "", "leaked", ""},
		{"query trimmed", "?reason=%20leaked%20", "", "leaked", ""},
		{"body", "", `{"reason":"leaked"}`, "leaked", ""},
		{"body with space around", "", " \n{\"reason\":\"leaked\"}\n", "leaked", ""},
		{"longest", "?reason=" + long, "", long, ""},
		{"missing", "", "", "", "reason"},
		{"empty query", "?reason=", "", "", "reason"},
		{"blank body reason", "", `{"reason":"   "}`, "", "reason"},
		{"empty object", "", `{}`, "", "reason"},
		{"twice in query", "?reason=a&reason=b", "", "", "reason"},
		{"query and body", "?reason=a", `{"reason":"b"}`, "", "reason"},
		{"too long", "?reason=" + long + "x", "", "", "reason"},
		{"newline", "?reason=a%0Ab", "", "", "reason"},
		{"nul", "", `{"reason":"a\u0000b"}`, "", "reason"},
		{"escape sequence", "", `{"reason":"\u001b[31mred"}`, "", "reason"},
		{"invalid utf-8", "?reason=%ff%fe", "", "", "reason"},
		{"unknown field", "", `{"reason":"a","note":"b"}`, "", "body"},
		{"not an object", "", `"leaked"`, "", "body"},
		{"array", "", `[{"reason":"a"}]`, "", "body"},
		{"two objects", "", `{"reason":"a"}{"reason":"b"}`, "", "body"},
		{"truncated", "", `{"reason":"a`, "", "body"},
		{"number", "", `{"reason":1}`, "", "body"},
		{"huge body", "", `{"reason":"` + strings.Repeat("a", maxRevokeBody) + `"}`, "", "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reason, field, msg := parseRevokeReason(revokeRequest(tc.query, tc.body))
			assert.Equal(t, tc.reason, reason)
			assert.Equal(t, tc.field, field, msg)
			assert.Equal(t, tc.field == "", msg == "")
		})
	}
}

func FuzzParseRevokeReason(f *testing.F) {
	f.Add("?reason=leaked", "")
	f.Add("", `{"reason":"leaked"}`)
	f.Add("?reason=a&reason=b", `{"reason":1}`)
	f.Add("", `{"reason":"\u001b"}`)
	f.Fuzz(func(t *testing.T, query, body string) {
		if strings.ContainsAny(query, " #\r\n\t") {
			return // not a request target
		}
		req, err := http.NewRequest("DELETE", "http://admin/x?"+strings.TrimPrefix(query, "?"), strings.NewReader(body))
		if err != nil {
			return
		}
		reason, field, msg := parseRevokeReason(req)
		if msg != "" {
			require.NotEmpty(t, field)
			require.Empty(t, reason)
			return
		}
		require.NotEmpty(t, reason)
		require.LessOrEqual(t, len(reason), maxReasonLen)
		require.True(t, utf8.ValidString(reason))
		require.False(t, strings.ContainsFunc(reason, isControl))
		require.Equal(t, strings.TrimSpace(reason), reason)
	})
}

func TestParseKeyRef(t *testing.T) {
	whole, prefix, _ := tenancy.GenerateAPIKey()
	tests := []struct {
		in       string
		id, pref string
		bad      bool
	}{
		{in: "9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d", id: "9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d"},
		{in: "9A1C0E0E-6F8D-4C55-9F5E-0D4F6F1B2C3D", id: "9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d"},
		{in: prefix, pref: prefix},
		{in: whole, bad: true},
		{in: "", bad: true},
		{in: "9a1c0e0e6f8d4c559f5e0d4f6f1b2c3d", bad: true},              // UUID without dashes
		{in: "{9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d}", bad: true},        // braces
		{in: "urn:uuid:9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d", bad: true}, // urn
		{in: "sk_live_", bad: true},
		{in: "sk_live_AAAAAAAAAAA", bad: true},
		{in: "sk_live_AAAAAAAAAAAAA", bad: true},
		{in: "sk_live_AAAAAAAAAAA-", bad: true},
		{in: "sk_live_AAAAAAAAAAA\x00", bad: true},
		{in: "sk_test_AAAAAAAAAAAA", bad: true},
		{in: "../../etc/passwd", bad: true},
		{in: strings.Repeat("a", 10000), bad: true},
	}
	for _, tc := range tests {
		ref, msg := parseKeyRef(tc.in)
		if tc.bad {
			assert.NotEmpty(t, msg, "%q", tc.in)
			assert.Equal(t, keyRef{}, ref, "%q", tc.in)
			continue
		}
		assert.Empty(t, msg, "%q", tc.in)
		assert.Equal(t, keyRef{id: tc.id, prefix: tc.pref}, ref, "%q", tc.in)
	}
}

func FuzzParseKeyRef(f *testing.F) {
	whole, prefix, _ := tenancy.GenerateAPIKey()
	for _, s := range []string{whole, prefix, "9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d", "sk_live_", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, msg := parseKeyRef(s)
		if msg != "" {
			require.Equal(t, keyRef{}, ref)
			return
		}
		require.True(t, (ref.id == "") != (ref.prefix == ""), "exactly one of id and prefix")
		if ref.prefix != "" {
			require.Equal(t, s, ref.prefix)
			require.Len(t, s, apiKeyPrefixLen)
		}
		if ref.id != "" {
			require.Len(t, ref.id, 36)
			require.Equal(t, strings.ToLower(ref.id), ref.id)
		}
	})
}
