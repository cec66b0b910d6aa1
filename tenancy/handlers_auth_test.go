package tenancy

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignupLoginMe(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)

		r := f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{
			"email": "  Alice@Example.TEST ", "password": "correct horse battery", "org_name": "Acme Inc",
		}, "X-Request-Id", "req-signup-1")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		tk := r.tokens(t)
		assert.InDelta(t, (15 * time.Minute).Seconds(), float64(tk.Expires), 2)
		var su signupResponse
		require.NoError(t, json.Unmarshal(r.body, &su))
		assert.Equal(t, "alice@example.test", su.User.Email, "emails are stored trimmed and lower-cased")
		require.Len(t, su.Memberships, 1)
		assert.Equal(t, "acme-inc", su.Memberships[0].OrgSlug, "the slug is derived from org_name")
		assert.Equal(t, RoleOwner, su.Memberships[0].Role)
		assert.Equal(t, su.Memberships[0].OrgID, su.User.DefaultOrgID, "the created org becomes the default")
		assert.NotContains(t, string(r.body), "argon2id", "the password hash is never serialised")

		// The access token is a JWT of the signer; /auth/me shows the user.
		me := f.call(t, http.MethodGet, "/auth/me", tk.Access, nil)
		require.Equal(t, http.StatusOK, me.status, "%s", me.body)
		var mr meResponse
		require.NoError(t, json.Unmarshal(me.body, &mr))
		assert.Equal(t, su.User.ID, mr.User.ID)
		assert.NotEmpty(t, mr.SessionID)
		require.Len(t, mr.Memberships, 1)
		assert.Equal(t, "Acme Inc", mr.Memberships[0].OrgName)

		// The JWKS verifies the token.
		jwks := f.call(t, http.MethodGet, "/.well-known/jwks.json", "", nil)
		require.Equal(t, http.StatusOK, jwks.status)
		assert.Contains(t, string(jwks.body), f.signer.ActiveKID())

		// Login: any case of the email; a wrong password and an unknown
		// email get the same answer.
		lt := f.login(t, "ALICE@example.test", "correct horse battery")
		assert.NotEqual(t, tk.Refresh, lt.Refresh)
		wrong := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "alice@example.test", "password": "wrong password"})
		unknown := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "nobody@example.test", "password": "wrong password"})
		require.Equal(t, http.StatusUnauthorized, wrong.status)
		assert.Equal(t, wrong.status, unknown.status)
		assert.Equal(t, string(wrong.body), string(unknown.body), "no answer reveals whether an email exists")
		assert.Equal(t, wrong.header.Get("WWW-Authenticate"), unknown.header.Get("WWW-Authenticate"))

		// Audit: signup, org creation, logins (platform-level and org).
		all := actions(f.platformAudit(t))
		assert.Subset(t, all, []string{AuditUserSignup, AuditOrgCreate, AuditSessionLogin})
		orgEntries := f.audit(t, su.Memberships[0].OrgID)
		require.NotEmpty(t, orgEntries)
		assert.Equal(t, AuditOrgCreate, orgEntries[0].Action)
		assert.Equal(t, "req-signup-1", orgEntries[0].RequestID)
		assert.Equal(t, "127.0.0.1", orgEntries[0].ClientIP)
		assert.Equal(t, su.User.ID, orgEntries[0].ActorID)
		assert.Equal(t, ActorUser, orgEntries[0].ActorType)
		assert.JSONEq(t, `"acme-inc"`, mustJSON(t, orgEntries[0].After)["slug"])
	})
}

func mustJSON(t testing.TB, raw json.RawMessage) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func TestSignupConflictsAndInvalid(t *testing.T) {
	f := newIDFixture(t, NewMemoryStore())
	f.signup(t, "bob@example.test", "password-1", "bobco")

	r := f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "BOB@example.test", "password": "password-2"})
	require.Equal(t, http.StatusConflict, r.status)
	code, field := r.errCode(t)
	assert.Equal(t, "conflict", code)
	assert.Equal(t, "email", field)

	r = f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{
		"email": "other@example.test", "password": "password-2", "org_name": "Bob Co", "org_slug": "bobco"})
	require.Equal(t, http.StatusConflict, r.status)
	_, field = r.errCode(t)
	assert.Equal(t, "org_slug", field)
	_, err := f.store.GetUserByEmail(context.Background(), "other@example.test")
	assert.ErrorIs(t, err, ErrNotFound, "a taken slug is refused before the user is created")

	r = f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "short@example.test", "password": "1234567"})
	require.Equal(t, http.StatusBadRequest, r.status)
	_, field = r.errCode(t)
	assert.Equal(t, "password", field)
}

func TestSignupAcceptsPendingInvitations(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		owner, _ := f.signup(t, "owner@example.test", "owner-password", "acme")

		r := f.call(t, http.MethodPost, "/orgs/acme/members", owner.Access, map[string]any{"email": "New.Hire@example.test", "role": "member"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		inv := r.json(t)["invitation"].(map[string]any)
		assert.Equal(t, "new.hire@example.test", inv["email"])

		// The invitee signs up: the invitation becomes a membership.
		r = f.call(t, http.MethodPost, "/auth/signup", "", map[string]any{"email": "new.hire@example.test", "password": "new-hire-pass"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var su signupResponse
		require.NoError(t, json.Unmarshal(r.body, &su))
		require.Len(t, su.Memberships, 1)
		assert.Equal(t, "acme", su.Memberships[0].OrgSlug)
		assert.Equal(t, RoleMember, su.Memberships[0].Role)
		assert.Equal(t, su.Memberships[0].OrgID, su.User.DefaultOrgID, "the org invited to becomes the default")

		// The new member reads the org; the invitation is no longer pending.
		r = f.call(t, http.MethodGet, "/orgs/acme", su.AccessToken, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = f.call(t, http.MethodGet, "/orgs/acme/members", owner.Access, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Len(t, r.json(t)["members"], 2)
		assert.Empty(t, r.json(t)["invitations"])

		entries := actions(f.audit(t, su.Memberships[0].OrgID))
		assert.Contains(t, entries, AuditInvitationCreate)
		assert.Contains(t, entries, AuditInvitationAccept)
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		first, userID := f.signup(t, "rot@example.test", "rotation-pass", "")

		// A refresh rotates: new refresh token, new access token, same session.
		r := f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": first.Refresh})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		second := r.tokens(t)
		assert.NotEqual(t, first.Refresh, second.Refresh)
		sid := func(access string) string {
			me := f.call(t, http.MethodGet, "/auth/me", access, nil)
			require.Equal(t, http.StatusOK, me.status, "%s", me.body)
			return me.json(t)["session_id"].(string)
		}
		family := sid(first.Access)
		assert.Equal(t, family, sid(second.Access), "the access tokens of a login share its session")

		// Within the grace window the used token works once more (a client
		// racing itself), giving another child of the same family.
		f.clock.Advance(5 * time.Second)
		r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": first.Refresh})
		require.Equal(t, http.StatusOK, r.status, "inside the grace window: %s", r.body)
		sibling := r.tokens(t)
		assert.NotEqual(t, second.Refresh, sibling.Refresh)

		// Outside it, reuse revokes the whole family.
		f.clock.Advance(6 * time.Second)
		r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": first.Refresh})
		require.Equal(t, http.StatusUnauthorized, r.status)
		code, _ := r.errCode(t)
		assert.Equal(t, "unauthenticated", code)
		for _, tk := range []tokens{second, sibling} {
			r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": tk.Refresh})
			assert.Equal(t, http.StatusUnauthorized, r.status, "every token of the family is revoked")
			r = f.call(t, http.MethodGet, "/auth/me", tk.Access, nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, "the family's access tokens are refused")
		}
		// A new login is a new family and works.
		fresh := f.login(t, "rot@example.test", "rotation-pass")
		assert.NotEqual(t, family, sid(fresh.Access))

		var reused []AuditEntry
		for _, e := range f.platformAudit(t) {
			if e.Action == AuditSessionReuse {
				reused = append(reused, e)
			}
		}
		require.Len(t, reused, 1)
		assert.Equal(t, family, reused[0].TargetID)
		assert.Equal(t, userID, reused[0].ActorID)
	})
}

// TestRefreshConcurrentWithinGrace: several refreshes of one token sent at
// once all succeed, each with its own child; each child then rotates once.
func TestRefreshConcurrentWithinGrace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		tk, _ := f.signup(t, "race@example.test", "race-password", "")
		const n = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			out   = make([]resp, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[i] = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": tk.Refresh})
			}()
		}
		close(start)
		wg.Wait()
		seen := map[string]bool{}
		for i, r := range out {
			require.Equal(t, http.StatusOK, r.status, "refresh %d: %s", i, r.body)
			child := r.tokens(t)
			assert.False(t, seen[child.Refresh], "each concurrent refresh gets its own child")
			seen[child.Refresh] = true
		}
		for child := range seen {
			r := f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": child})
			assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
		}
	})
}

func TestLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newIDFixture(t, s)
		a, _ := f.signup(t, "out@example.test", "logout-password", "")
		b := f.login(t, "out@example.test", "logout-password") // a second session

		// By access token.
		r := f.call(t, http.MethodPost, "/auth/logout", a.Access, nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		assert.Equal(t, http.StatusUnauthorized, f.call(t, http.MethodGet, "/auth/me", a.Access, nil).status,
			"the session's access token is refused at once")
		r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": a.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.status, "then refresh fails")
		assert.Equal(t, http.StatusNoContent, f.call(t, http.MethodPost, "/auth/logout", a.Access, nil).status, "idempotent")

		// The other session is untouched.
		assert.Equal(t, http.StatusOK, f.call(t, http.MethodGet, "/auth/me", b.Access, nil).status)

		// By refresh token alone.
		r = f.call(t, http.MethodPost, "/auth/logout", "", map[string]any{"refresh_token": b.Refresh})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		assert.Equal(t, http.StatusUnauthorized, f.call(t, http.MethodGet, "/auth/me", b.Access, nil).status)
		r = f.call(t, http.MethodPost, "/auth/refresh", "", map[string]any{"refresh_token": b.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.status)

		// Nothing to log out.
		assert.Equal(t, http.StatusUnauthorized, f.call(t, http.MethodPost, "/auth/logout", "", nil).status)
		r = f.call(t, http.MethodPost, "/auth/logout", "", map[string]any{"refresh_token": "not-a-token"})
		assert.Equal(t, http.StatusUnauthorized, r.status)
		r = f.call(t, http.MethodPost, "/auth/logout", "", map[string]any{"refresh_token": b.Refresh, "extra": 1})
		assert.Equal(t, http.StatusBadRequest, r.status)

		assert.Contains(t, actions(f.platformAudit(t)), AuditSessionLogout)
	})
}

func TestMeRefusesAPIKeysAndAnonymous(t *testing.T) {
	f := newIDFixture(t, NewMemoryStore())
	owner, _ := f.signup(t, "keyowner@example.test", "owner-password", "keyco")
	r := f.call(t, http.MethodPost, "/orgs/keyco/api-keys", owner.Access, map[string]any{"name": "ci", "role": "member"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	secret := r.json(t)["secret"].(string)

	r = f.call(t, http.MethodGet, "/auth/me", secret, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	r = f.call(t, http.MethodGet, "/auth/me", "", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, `Bearer realm="strangler"`, r.header.Get("WWW-Authenticate"))
	r = f.call(t, http.MethodGet, "/auth/me", "garbage.token.here", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	// An access token signed by another key is not ours.
	other, err := GenerateSigningKey()
	require.NoError(t, err)
	foreign, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.local", Now: f.clock.Now}, other)
	require.NoError(t, err)
	tok, _, err := foreign.SignAccessToken(AccessTokenClaims{UserID: newID(), SessionID: newID()})
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, f.call(t, http.MethodGet, "/auth/me", tok, nil).status)
}

// TestLoginUpgradesOldPasswordHash: a hash made with other parameters is
// replaced by one with the defaults at the next successful login.
func TestLoginUpgradesOldPasswordHash(t *testing.T) {
	s := NewMemoryStore()
	f := newIDFixture(t, s)
	weak, err := HashPasswordWith("legacy-password", PasswordParams{Memory: 8192, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	require.NoError(t, err)
	u, err := s.CreateUser(context.Background(), User{Email: "legacy@example.test", PasswordHash: weak})
	require.NoError(t, err)
	f.login(t, "legacy@example.test", "legacy-password")
	got, err := s.GetUser(context.Background(), u.ID)
	require.NoError(t, err)
	assert.False(t, PasswordNeedsRehash(got.PasswordHash))
	ok, err := VerifyPassword("legacy-password", got.PasswordHash)
	require.NoError(t, err)
	assert.True(t, ok)

	// A user without a password (an external issuer's) cannot log in, and
	// gets the answer of a wrong password.
	_, err = s.CreateUser(context.Background(), User{Email: "ext@example.test", ExternalSubject: "sub-1"})
	require.NoError(t, err)
	r := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": "ext@example.test", "password": "anything at all"})
	assert.Equal(t, http.StatusUnauthorized, r.status)
}

// TestExternalTokenUsesTenantAPI: a Supabase user (just in time) reads
// /auth/me and creates an org.
func TestExternalTokenUsesTenantAPI(t *testing.T) {
	f := newIDFixture(t, NewMemoryStore())
	_, err := f.store.CreateOrg(context.Background(), Org{Slug: "legacy", Name: "Legacy"}, "")
	require.NoError(t, err)
	af := &authFixture{clock: f.clock}
	tok := af.supabaseToken(t, "11111111-2222-3333-4444-555555555555", "sb@example.test", nil)

	r := f.call(t, http.MethodGet, "/auth/me", tok, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var mr meResponse
	require.NoError(t, json.Unmarshal(r.body, &mr))
	assert.Equal(t, "11111111-2222-3333-4444-555555555555", mr.User.ExternalSubject)
	require.Len(t, mr.Memberships, 1, "created just in time as a member of the default org")
	assert.Equal(t, "legacy", mr.Memberships[0].OrgSlug)
	assert.Empty(t, mr.SessionID)

	r = f.call(t, http.MethodPost, "/orgs", tok, map[string]any{"name": "Supa Co"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(t, "supa-co", r.json(t)["slug"])
	// Logout needs a built-in session.
	assert.Equal(t, http.StatusBadRequest, f.call(t, http.MethodPost, "/auth/logout", tok, nil).status)
}
