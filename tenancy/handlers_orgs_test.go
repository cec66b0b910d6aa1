package tenancy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTenantAPI walks the tenant management API with role checks on both
// stores: orgs, projects, members (roles, last owner, leaving), audit.
func TestTenantAPI(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		alice, aliceID := f.signup(t, "alice@acme.test", "alice-password", "acme")
		bob, bobID := f.signup(t, "bob@acme.test", "bob-password", "")
		rid := func(n string) []string { return []string{"X-Request-Id", "req-" + n, testIPHeader, "203.0.113.7"} }

		// Orgs.
		r := f.call(t, http.MethodGet, "/orgs", alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		orgs := r.json(t)["orgs"].([]any)
		require.Len(t, orgs, 1)
		acmeID := orgs[0].(map[string]any)["id"].(string)
		assert.Equal(t, "owner", orgs[0].(map[string]any)["role"])
		r = f.call(t, http.MethodGet, "/orgs/"+acmeID, alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status, "by id")
		r = f.call(t, http.MethodGet, "/orgs/ACME", alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status, "by slug, any case")
		r = f.call(t, http.MethodPatch, "/orgs/acme", alice.Access, map[string]any{"name": "Acme Corporation"}, rid("patch")...)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "Acme Corporation", r.json(t)["name"])

		// Projects.
		r = f.call(t, http.MethodPost, "/orgs/acme/projects", alice.Access, map[string]any{"slug": "web", "name": "Web"}, rid("p1")...)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		webID := r.json(t)["id"].(string)
		r = f.call(t, http.MethodPost, "/orgs/acme/projects", alice.Access, map[string]any{"slug": "web", "name": "Again"})
		require.Equal(t, http.StatusConflict, r.status)
		r = f.call(t, http.MethodPatch, "/orgs/acme/projects/web", alice.Access, map[string]any{"slug": "website"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = f.call(t, http.MethodGet, "/orgs/acme/projects/"+webID, alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "website", r.json(t)["slug"])
		r = f.call(t, http.MethodGet, "/orgs/acme/projects", alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Len(t, r.json(t)["projects"], 1)

		// Members: bob is added as a viewer.
		r = f.call(t, http.MethodPost, "/orgs/acme/members", alice.Access, map[string]any{"email": "Bob@Acme.test", "role": "viewer"}, rid("m1")...)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, bobID, r.json(t)["member"].(map[string]any)["user_id"])
		r = f.call(t, http.MethodPost, "/orgs/acme/members", alice.Access, map[string]any{"email": "bob@acme.test", "role": "viewer"})
		require.Equal(t, http.StatusConflict, r.status)

		// A viewer reads but does not write.
		r = f.call(t, http.MethodGet, "/orgs/acme/members", bob.Access, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Len(t, r.json(t)["members"], 2)
		assert.NotContains(t, r.json(t), "invitations", "pending invitations are for member managers")
		for _, c := range []struct{ method, path string }{
			{http.MethodPatch, "/orgs/acme"},
			{http.MethodDelete, "/orgs/acme"},
			{http.MethodPost, "/orgs/acme/projects"},
			{http.MethodDelete, "/orgs/acme/projects/website"},
			{http.MethodPost, "/orgs/acme/members"},
			{http.MethodPatch, "/orgs/acme/members/" + aliceID},
			{http.MethodGet, "/orgs/acme/api-keys"},
			{http.MethodPost, "/orgs/acme/api-keys"},
		} {
			r = f.call(t, c.method, c.path, bob.Access, map[string]any{"name": "x"})
			assert.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", c.method, c.path, r.body)
			code, _ := r.errCode(t)
			assert.Equal(t, "forbidden", code)
		}

		// Alice makes bob an admin; an admin cannot grant owner, nor touch
		// the owner.
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/"+bobID, alice.Access, map[string]any{"role": "admin"}, rid("m2")...)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/"+bobID, bob.Access, map[string]any{"role": "owner"})
		assert.Equal(t, http.StatusForbidden, r.status, "no self-promotion above one's role")
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/alice@acme.test", bob.Access, map[string]any{"role": "viewer"})
		assert.Equal(t, http.StatusForbidden, r.status, "an admin cannot demote an owner")
		r = f.call(t, http.MethodDelete, "/orgs/acme/members/"+aliceID, bob.Access, nil)
		assert.Equal(t, http.StatusForbidden, r.status, "an admin cannot remove an owner")
		r = f.call(t, http.MethodPost, "/orgs/acme/members", bob.Access, map[string]any{"email": "x@acme.test", "role": "owner"})
		assert.Equal(t, http.StatusForbidden, r.status, "an admin cannot invite an owner")
		r = f.call(t, http.MethodPost, "/orgs/acme/members", bob.Access, map[string]any{"email": "carol@acme.test", "role": "member"}, rid("inv")...)
		require.Equal(t, http.StatusCreated, r.status, "an admin invites: %s", r.body)
		invID := r.json(t)["invitation"].(map[string]any)["id"].(string)
		r = f.call(t, http.MethodGet, "/orgs/acme/members", bob.Access, nil)
		assert.Len(t, r.json(t)["invitations"], 1)
		r = f.call(t, http.MethodDelete, "/orgs/acme/invitations/"+invID, bob.Access, nil, rid("inv-del")...)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = f.call(t, http.MethodDelete, "/orgs/acme/invitations/"+invID, bob.Access, nil)
		assert.Equal(t, http.StatusNotFound, r.status)

		// The last owner can neither be demoted nor leave.
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/"+aliceID, alice.Access, map[string]any{"role": "admin"})
		require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		r = f.call(t, http.MethodDelete, "/orgs/acme/members/"+aliceID, alice.Access, nil)
		require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
		// With a second owner, she can.
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/"+bobID, alice.Access, map[string]any{"role": "owner"})
		require.Equal(t, http.StatusOK, r.status)
		r = f.call(t, http.MethodPatch, "/orgs/acme/members/"+aliceID, alice.Access, map[string]any{"role": "member"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		// A member leaves by themself.
		r = f.call(t, http.MethodDelete, "/orgs/acme/members/"+aliceID, alice.Access, nil, rid("leave")...)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = f.call(t, http.MethodGet, "/orgs/acme", alice.Access, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "a former member sees nothing")

		// Project deletion and org deletion by the (new) owner.
		r = f.call(t, http.MethodDelete, "/orgs/acme/projects/website", bob.Access, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

		// Audit: one entry per change, with actor, request id, client ip,
		// before and after.
		entries := f.audit(t, acmeID)
		assert.Equal(t, []string{
			AuditOrgCreate, AuditOrgUpdate, AuditProjectCreate, AuditProjectUpdate, AuditMemberAdd, AuditMemberUpdate,
			AuditInvitationCreate, AuditInvitationRevoke, AuditMemberUpdate, AuditMemberUpdate, AuditMemberRemove, AuditProjectDelete,
		}, actions(entries))
		byReq := map[string]AuditEntry{}
		for _, e := range entries {
			byReq[e.RequestID] = e
		}
		upd := byReq["req-patch"]
		assert.Equal(t, aliceID, upd.ActorID)
		assert.Equal(t, "alice@acme.test", upd.Actor)
		assert.Equal(t, "203.0.113.7", upd.ClientIP)
		assert.Equal(t, `"Acme Inc"`, mustJSON(t, upd.Before)["name"])
		assert.Equal(t, `"Acme Corporation"`, mustJSON(t, upd.After)["name"])
		promo := byReq["req-m2"]
		assert.Equal(t, `"viewer"`, mustJSON(t, promo.Before)["role"])
		assert.Equal(t, `"admin"`, mustJSON(t, promo.After)["role"])
		assert.Equal(t, bobID, promo.TargetID)
		leave := byReq["req-leave"]
		assert.Equal(t, AuditMemberRemove, leave.Action)
		assert.Nil(t, leave.After)
		inv := byReq["req-inv"]
		assert.Equal(t, bobID, inv.ActorID)

		r = f.call(t, http.MethodDelete, "/orgs/acme", bob.Access, nil, rid("del")...)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = f.call(t, http.MethodGet, "/orgs/acme", bob.Access, nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		entries = f.audit(t, acmeID)
		assert.Equal(t, AuditOrgDelete, entries[len(entries)-1].Action, "the history outlives the org")
	})
}

// TestTenantAPINoExistenceOracle: another org's resources get exactly the
// answer of missing ones.
func TestTenantAPINoExistenceOracle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		alice, _ := f.signup(t, "alice@a.test", "alice-password", "alpha")
		carol, carolID := f.signup(t, "carol@b.test", "carol-password", "beta")
		r := f.call(t, http.MethodPost, "/orgs/beta/projects", carol.Access, map[string]any{"slug": "secret", "name": "Secret"})
		require.Equal(t, http.StatusCreated, r.status)
		betaProject := r.json(t)["id"].(string)
		betaID := r.json(t)["org_id"].(string)
		r = f.call(t, http.MethodPost, "/orgs/beta/api-keys", carol.Access, map[string]any{"name": "k", "role": "member"})
		require.Equal(t, http.StatusCreated, r.status)
		betaKey := r.json(t)["api_key"].(map[string]any)["id"].(string)
		missing := "9b2f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

		same := func(what string, a, b resp) {
			t.Helper()
			assert.Equal(t, b.status, a.status, what)
			ca, fa := a.errCode(t)
			cb, fb := b.errCode(t)
			assert.Equal(t, cb+fb, ca+fa, what)
			var ea, eb errorJSON
			require.NoError(t, json.Unmarshal(a.body, &ea))
			require.NoError(t, json.Unmarshal(b.body, &eb))
			assert.Equal(t, eb.Error.Message, ea.Error.Message, what)
		}
		// Orgs: by slug, by id, with every method.
		for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
			other := f.call(t, m, "/orgs/beta", alice.Access, map[string]any{"name": "x"})
			none := f.call(t, m, "/orgs/gamma", alice.Access, map[string]any{"name": "x"})
			require.Equal(t, http.StatusNotFound, other.status, "%s", other.body)
			same(m+" org by slug", other, none)
			same(m+" org by id", f.call(t, m, "/orgs/"+betaID, alice.Access, map[string]any{"name": "x"}),
				f.call(t, m, "/orgs/"+missing, alice.Access, map[string]any{"name": "x"}))
		}
		for _, sub := range []string{"/projects", "/members", "/api-keys"} {
			same("list "+sub, f.call(t, http.MethodGet, "/orgs/beta"+sub, alice.Access, nil),
				f.call(t, http.MethodGet, "/orgs/gamma"+sub, alice.Access, nil))
		}
		// Resources of another org named through one's own org.
		same("project", f.call(t, http.MethodGet, "/orgs/alpha/projects/"+betaProject, alice.Access, nil),
			f.call(t, http.MethodGet, "/orgs/alpha/projects/"+missing, alice.Access, nil))
		same("project patch", f.call(t, http.MethodPatch, "/orgs/alpha/projects/"+betaProject, alice.Access, map[string]any{"name": "x"}),
			f.call(t, http.MethodPatch, "/orgs/alpha/projects/"+missing, alice.Access, map[string]any{"name": "x"}))
		same("key", f.call(t, http.MethodDelete, "/orgs/alpha/api-keys/"+betaKey, alice.Access, nil),
			f.call(t, http.MethodDelete, "/orgs/alpha/api-keys/"+missing, alice.Access, nil))
		same("member", f.call(t, http.MethodPatch, "/orgs/alpha/members/"+carolID, alice.Access, map[string]any{"role": "viewer"}),
			f.call(t, http.MethodPatch, "/orgs/alpha/members/"+missing, alice.Access, map[string]any{"role": "viewer"}))
		same("member by email", f.call(t, http.MethodDelete, "/orgs/alpha/members/carol@b.test", alice.Access, nil),
			f.call(t, http.MethodDelete, "/orgs/alpha/members/nobody@b.test", alice.Access, nil))

		// Nothing of beta changed.
		p, err := s.GetProject(context.Background(), betaID, betaProject)
		require.NoError(t, err)
		assert.Equal(t, "Secret", p.Name)
		k, err := s.GetAPIKey(context.Background(), betaID, betaKey)
		require.NoError(t, err)
		assert.True(t, k.RevokedAt.IsZero())
	})
}

// TestTenantAPIKeys: creation (secret once), listing by prefix, scope and
// role caps, use of the key on the API, revocation.
func TestTenantAPIKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		alice, aliceID := f.signup(t, "alice@keys.test", "alice-password", "keys")
		r := f.call(t, http.MethodPost, "/orgs/keys/projects", alice.Access, map[string]any{"slug": "web", "name": "Web"})
		require.Equal(t, http.StatusCreated, r.status)
		webID := r.json(t)["id"].(string)

		exp := f.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", alice.Access, map[string]any{
			"name": "reader", "role": "member", "scopes": []string{"read"}, "project": "web", "expires_at": exp,
		}, "X-Request-Id", "req-key")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var created keyCreated
		require.NoError(t, json.Unmarshal(r.body, &created))
		prefix, err := ParseAPIKey(created.Secret)
		require.NoError(t, err, "the secret is a well-formed key")
		assert.Equal(t, created.APIKey.Prefix, prefix)
		assert.Equal(t, webID, created.APIKey.ProjectID)
		assert.Equal(t, aliceID, created.APIKey.CreatedBy)
		assert.Equal(t, []string{"read"}, created.APIKey.Scopes)

		r = f.call(t, http.MethodGet, "/orgs/keys/api-keys", alice.Access, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), created.Secret, "listed by prefix only")
		assert.NotContains(t, string(r.body), created.Secret[len(prefix):])
		assert.Contains(t, string(r.body), prefix)

		// The key authenticates on the API with its own permissions.
		r = f.call(t, http.MethodGet, "/orgs/keys", created.Secret, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "member", r.json(t)["role"])
		r = f.call(t, http.MethodGet, "/orgs", created.Secret, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Len(t, r.json(t)["orgs"], 1)
		r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", created.Secret, map[string]any{"name": "x", "role": "viewer"})
		assert.Equal(t, http.StatusForbidden, r.status, "no keys.manage in its scopes")
		r = f.call(t, http.MethodPost, "/orgs", created.Secret, map[string]any{"name": "Key Org"})
		assert.Equal(t, http.StatusForbidden, r.status, "keys do not create orgs")

		// A key with keys.manage cannot mint a wider key.
		r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", alice.Access, map[string]any{
			"name": "key-admin", "role": "admin", "scopes": []string{"read", "keys.manage"},
		})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		adminKey := r.json(t)["secret"].(string)
		for _, body := range []map[string]any{
			{"name": "wide", "role": "admin"},                                          // all of admin: more than read+keys.manage
			{"name": "owner", "role": "owner", "scopes": []string{"read"}},             // a role above the key's
			{"name": "members", "role": "admin", "scopes": []string{"members.manage"}}, // a permission it lacks
		} {
			r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", adminKey, body)
			assert.Equal(t, http.StatusForbidden, r.status, "%v: %s", body, r.body)
		}
		r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", adminKey, map[string]any{"name": "narrow", "role": "viewer", "scopes": []string{"read"}})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		// Validation of scopes, project, expiry.
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "x", "role": "viewer", "scopes": []string{"write"}}, "scopes[0]"},
			{map[string]any{"name": "x", "role": "member", "scopes": []string{"read", "read"}}, "scopes[1]"},
			{map[string]any{"name": "x", "role": "member", "scopes": []string{"nope"}}, "scopes[0]"},
			{map[string]any{"name": "x", "role": "member", "project": "nope"}, "project"},
			{map[string]any{"name": "x", "role": "member", "expires_at": "tomorrow"}, "expires_at"},
			{map[string]any{"name": "x", "role": "member", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"},
			{map[string]any{"name": "", "role": "member"}, "name"},
			{map[string]any{"name": "x", "role": "superuser"}, "role"},
			{map[string]any{"name": "x"}, "role"},
		} {
			r = f.call(t, http.MethodPost, "/orgs/keys/api-keys", alice.Access, c.body)
			require.Equal(t, http.StatusBadRequest, r.status, "%v: %s", c.body, r.body)
			_, field := r.errCode(t)
			assert.Equal(t, c.field, field, "%v", c.body)
		}

		// Revocation: the key stops working.
		r = f.call(t, http.MethodDelete, "/orgs/keys/api-keys/"+created.APIKey.ID, alice.Access, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		require.Eventually(t, func() bool {
			return f.call(t, http.MethodGet, "/orgs/keys", created.Secret, nil).status == http.StatusUnauthorized
		}, time.Second, 10*time.Millisecond, "a revoked key is refused within 1s")
		r = f.call(t, http.MethodDelete, "/orgs/keys/api-keys/"+created.APIKey.ID, alice.Access, nil)
		assert.Equal(t, http.StatusNoContent, r.status, "idempotent")
		r = f.call(t, http.MethodGet, "/orgs/keys/api-keys", alice.Access, nil)
		assert.Contains(t, string(r.body), `"revoked_at"`)

		var keyEntries []AuditEntry
		for _, e := range f.audit(t, created.APIKey.OrgID) {
			if strings.HasPrefix(e.Action, "api_key.") {
				keyEntries = append(keyEntries, e)
			}
		}
		require.Equal(t, []string{AuditAPIKeyCreate, AuditAPIKeyCreate, AuditAPIKeyCreate, AuditAPIKeyRevoke}, actions(keyEntries),
			"a repeated revocation changes and audits nothing")
		assert.Equal(t, "req-key", keyEntries[0].RequestID)
		assert.NotContains(t, string(keyEntries[0].After), created.Secret[len(prefix):], "no secret in the audit log")
		assert.Equal(t, ActorAPIKey, keyEntries[2].ActorType, "the narrow key was made by the admin key")
	})
}
