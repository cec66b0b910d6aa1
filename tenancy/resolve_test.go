package tenancy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	hOrg  = "X-Organization-Id"
	hProj = "X-Project-Id"
)

// TestResolveTenant walks SPEC §7's precedence, the permission check and
// the refusals, on both stores.
func TestResolveTenant(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		sd := f.seed
		bearer := func(tok string) map[string][]string { return map[string][]string{"Authorization": {"Bearer " + tok}} }
		with := func(h map[string][]string, k string, v ...string) map[string][]string {
			out := map[string][]string{k: v}
			for hk, hv := range h {
				out[hk] = hv
			}
			return out
		}
		key := func(name string) map[string][]string { return map[string][]string{"X-Api-Key": {sd.keys[name]}} }
		alice, bob, carol, dave := bearer(f.userToken(t, sd.alice, "")), bearer(f.userToken(t, sd.bob, "")),
			bearer(f.userToken(t, sd.carol, "")), bearer(f.userToken(t, sd.dav, ""))

		type want struct {
			org, project, user string
			role               Role
			err                error
		}
		tests := []struct {
			name string
			hdrs map[string][]string
			perm string
			want want
		}{
			// Users of the built-in issuer.
			{"user default org", alice, "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"user default org with permission", alice, "org.manage", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"header slug of own org", with(alice, hOrg, "acme"), "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"header slug any case", with(alice, hOrg, "ACME"), "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"header id of own org", with(alice, hOrg, sd.acme.ID), "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"header id upper case", with(alice, hOrg, strings.ToUpper(sd.acme.ID)), "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"header empty counts as absent", with(alice, hOrg, " "), "", want{org: sd.acme.ID, user: sd.alice.ID, role: RoleOwner}},
			{"member of A asks for B", with(alice, hOrg, "beta"), "", want{err: ErrTenantForbidden}},
			{"member of A asks for B by id", with(alice, hOrg, sd.beta.ID), "", want{err: ErrTenantForbidden}},
			{"unknown org slug is the same 403", with(alice, hOrg, "nope"), "", want{err: ErrTenantForbidden}},
			{"unknown org id is the same 403", with(alice, hOrg, "6f9619ff-8b86-4011-b42d-00c04fc964ff"), "", want{err: ErrTenantForbidden}},
			{"malformed org header", with(alice, hOrg, "acme; drop"), "", want{err: ErrBadTenantHeader}},
			{"org header twice", with(alice, hOrg, "acme", "acme"), "", want{err: ErrBadTenantHeader}},
			{"org header too long", with(alice, hOrg, strings.Repeat("a", 65)), "", want{err: ErrBadTenantHeader}},
			{"org header leading dash", with(alice, hOrg, "-acme"), "", want{err: ErrBadTenantHeader}},
			{"org header unicode", with(alice, hOrg, "ácme"), "", want{err: ErrBadTenantHeader}},
			{"viewer reads", bob, "read", want{org: sd.acme.ID, user: sd.bob.ID, role: RoleViewer}},
			{"viewer writes", bob, "write", want{err: ErrPermissionDenied}},
			{"several orgs, no default", carol, "", want{err: ErrOrgRequired}},
			{"several orgs, header picks", with(carol, hOrg, "beta"), "keys.manage", want{org: sd.beta.ID, user: sd.carol.ID, role: RoleAdmin}},
			{"role is per org", with(carol, hOrg, "acme"), "keys.manage", want{err: ErrPermissionDenied}},
			{"no membership: default org, no role", dave, "", want{org: sd.legacy.ID, user: sd.dav.ID}},
			{"no membership: no permission", dave, "read", want{err: ErrPermissionDenied}},
			{"no membership names an org", with(dave, hOrg, "legacy"), "", want{err: ErrTenantForbidden}},
			{"token org claim, member", bearer(f.userToken(t, sd.carol, sd.beta.ID)), "", want{org: sd.beta.ID, user: sd.carol.ID, role: RoleAdmin}},
			{"token org claim by slug", bearer(f.userToken(t, sd.carol, "beta")), "", want{org: sd.beta.ID, user: sd.carol.ID, role: RoleAdmin}},
			{"token org claim, not a member", bearer(f.userToken(t, sd.alice, sd.beta.ID)), "", want{err: ErrTenantForbidden}},
			{"header beats token claim", with(bearer(f.userToken(t, sd.carol, sd.beta.ID)), hOrg, "acme"), "", want{org: sd.acme.ID, user: sd.carol.ID, role: RoleMember}},
			// Projects.
			{"project by slug", with(alice, hProj, "web"), "", want{org: sd.acme.ID, project: sd.web.ID, user: sd.alice.ID, role: RoleOwner}},
			{"project by id", with(alice, hProj, sd.mobile.ID), "", want{org: sd.acme.ID, project: sd.mobile.ID, user: sd.alice.ID, role: RoleOwner}},
			{"project of another org", with(alice, hProj, "api"), "", want{err: ErrTenantForbidden}},
			{"project of another org by id", with(alice, hProj, sd.api.ID), "", want{err: ErrTenantForbidden}},
			{"unknown project", with(alice, hProj, "nope"), "", want{err: ErrTenantForbidden}},
			{"malformed project header", with(alice, hProj, "a/b"), "", want{err: ErrBadTenantHeader}},
			// API keys.
			{"key org", key("acme-member"), "write", want{org: sd.acme.ID, role: RoleMember}},
			{"key with its org named", with(key("acme-member"), hOrg, "acme"), "", want{org: sd.acme.ID, role: RoleMember}},
			{"key of another org", with(key("acme-member"), hOrg, "beta"), "", want{err: ErrTenantForbidden}},
			{"key of another org by id", with(key("beta-admin"), hOrg, sd.acme.ID), "", want{err: ErrTenantForbidden}},
			{"key role cap", key("acme-member"), "keys.manage", want{err: ErrPermissionDenied}},
			{"key in scope", key("acme-read"), "read", want{org: sd.acme.ID, role: RoleMember}},
			{"key out of scope", key("acme-read"), "write", want{err: ErrPermissionDenied}},
			{"key bound to project", key("acme-web"), "", want{org: sd.acme.ID, project: sd.web.ID, user: sd.alice.ID, role: RoleMember}},
			{"key bound to project, same project named", with(key("acme-web"), hProj, "web"), "", want{org: sd.acme.ID, project: sd.web.ID, user: sd.alice.ID, role: RoleMember}},
			{"key bound to project, other project", with(key("acme-web"), hProj, "mobile"), "", want{err: ErrTenantForbidden}},
			{"org key picks a project", with(key("acme-member"), hProj, "mobile"), "", want{org: sd.acme.ID, project: sd.mobile.ID, role: RoleMember}},
			{"revoked key", key("acme-revoked"), "", want{err: ErrInvalidCredentials}},
			{"expired key", key("acme-expired"), "", want{err: ErrInvalidCredentials}},
			// Anonymous callers.
			{"anonymous: default org", nil, "", want{org: sd.legacy.ID}},
			{"anonymous with a permission", nil, "read", want{err: ErrAuthRequired}},
			{"anonymous names an org", map[string][]string{hOrg: {"acme"}}, "", want{err: ErrAuthRequired}},
			{"anonymous project of default org missing", map[string][]string{hProj: {"web"}}, "", want{err: ErrTenantForbidden}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				// Twice: from the store, then from the caches.
				for round := range 2 {
					res, err := f.resolve(request(tc.hdrs), tc.perm)
					if tc.want.err != nil {
						require.ErrorIs(t, err, tc.want.err, "round %d", round)
						continue
					}
					require.NoError(t, err, "round %d", round)
					assert.Equal(t, tc.want.org, res.Tenant.OrgID, "org")
					assert.Equal(t, tc.want.project, res.Tenant.ProjectID, "project")
					assert.Equal(t, tc.want.user, res.Tenant.UserID, "user")
					assert.Equal(t, tc.want.role, res.Tenant.Role, "role")
					if tc.perm != "" {
						assert.Contains(t, res.Permissions, tc.perm)
					}
					if tc.want.org != "" {
						assert.NotEmpty(t, res.Tenant.OrgSlug)
					}
				}
			})
		}
	})
}

// TestResolveSupabaseTokenJIT: a Supabase access token works as is; its
// unknown sub becomes a member of the default org, whose data today's
// users see.
func TestResolveSupabaseTokenJIT(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		ctx := context.Background()
		sub := "0b7f3c1e-6d1a-4f3e-9d2a-8c1b2a3d4e5f"
		tok := f.supabaseToken(t, sub, "erin@legacy.test", nil)
		r := request(map[string][]string{"Authorization": {"Bearer " + tok}})
		res, err := f.resolve(r, "write")
		require.NoError(t, err)
		assert.Equal(t, f.seed.legacy.ID, res.Tenant.OrgID)
		assert.Equal(t, RoleMember, res.Tenant.Role)

		u, err := s.GetUserByExternalSubject(ctx, sub)
		require.NoError(t, err)
		assert.Equal(t, u.ID, res.Tenant.UserID)
		assert.Equal(t, "erin@legacy.test", u.Email)
		assert.Equal(t, f.seed.legacy.ID, u.DefaultOrgID)
		m, err := s.GetMembership(ctx, f.seed.legacy.ID, u.ID)
		require.NoError(t, err)
		assert.Equal(t, RoleMember, m.Role)

		// user_metadata.org_id (user-editable) is never read; an
		// app_metadata org the user is not a member of is refused.
		tok2 := f.supabaseToken(t, sub, "erin@legacy.test", map[string]any{"org_id": f.seed.acme.ID})
		_, err = f.resolve(request(map[string][]string{"Authorization": {"Bearer " + tok2}}), "")
		require.ErrorIs(t, err, ErrTenantForbidden)
	})
}

// TestJITConcurrentFirstRequests: many first requests of one subject at
// once, on two stacks (two replicas) sharing the store, create one user
// with one membership, and every request succeeds.
func TestJITConcurrentFirstRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		other := newTestStack(t, s, f.signer, f.clock)
		ctx := context.Background()
		sub := "7d3c8a52-0000-4000-8000-00000000cafe"
		tok := f.supabaseToken(t, sub, "", nil)

		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 32 {
			stack := f.stack
			if i%2 == 1 {
				stack = other
			}
			wg.Go(func() {
				r := request(map[string][]string{"Authorization": {"Bearer " + tok}})
				p, err := stack.Authenticate(ctx, r, "required")
				if err == nil {
					var res Resolution
					res, err = stack.Resolve(ctx, ResolveInput{Principal: p, Permission: "write"})
					if err == nil && res.Tenant.Role != RoleMember {
						err = fmt.Errorf("role %q", res.Tenant.Role)
					}
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		u, err := s.GetUserByExternalSubject(ctx, sub)
		require.NoError(t, err)
		members, err := s.ListMembers(ctx, f.seed.legacy.ID)
		require.NoError(t, err)
		n := 0
		for _, m := range members {
			if m.UserID == u.ID {
				n++
			}
		}
		assert.Equal(t, 1, n, "one membership")
		ms, err := s.ListUserMemberships(ctx, u.ID)
		require.NoError(t, err)
		assert.Len(t, ms, 1)
	})
}

// TestJITEmailTakenIsNotLinked: a token whose email belongs to another
// user gets a new user without that email, not the other user's account.
func TestJITEmailTakenIsNotLinked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		ctx := context.Background()
		sub := "9e107d9d-372b-4d3a-9c4b-000000000001"
		tok := f.supabaseToken(t, sub, f.seed.alice.Email, nil)
		res, err := f.resolve(request(map[string][]string{"Authorization": {"Bearer " + tok}}), "")
		require.NoError(t, err)
		assert.NotEqual(t, f.seed.alice.ID, res.Tenant.UserID, "not linked to alice")
		assert.Equal(t, f.seed.legacy.ID, res.Tenant.OrgID, "not alice's org")
		u, err := s.GetUserByExternalSubject(ctx, sub)
		require.NoError(t, err)
		assert.Empty(t, u.Email)
	})
}

// TestJITRemovedMemberStaysRemoved: removing a JIT user's membership is
// not undone by the next request.
func TestJITRemovedMemberStaysRemoved(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		ctx := context.Background()
		sub := "4c1f3e2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
		r := func() *Resolution {
			tok := f.supabaseToken(t, sub, "", nil)
			res, err := f.resolve(request(map[string][]string{"Authorization": {"Bearer " + tok}}), "")
			require.NoError(t, err)
			return &res
		}
		first := r()
		require.Equal(t, RoleMember, first.Tenant.Role)
		require.NoError(t, s.RemoveMember(ctx, f.seed.legacy.ID, first.Tenant.UserID))
		require.Eventually(t, func() bool { return r().Tenant.Role == "" }, 5e9, 5e6)
		ms, err := s.ListUserMemberships(ctx, first.Tenant.UserID)
		require.NoError(t, err)
		assert.Empty(t, ms)
	})
}

func TestNormRef(t *testing.T) {
	id := "6f9619ff-8b86-4011-b42d-00c04fc964ff"
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"acme", "acme", true},
		{"Acme-Inc_2", "acme-inc_2", true},
		{id, id, true},
		{strings.ToUpper(id), id, true},
		{"0", "0", true},
		{strings.Repeat("a", 63), strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), "", false},
		{"", "", false},
		{"-a", "", false},
		{"_a", "", false},
		{"a b", "", false},
		{"a.b", "", false},
		{"a/b", "", false},
		{"a\x00", "", false},
		{"ácme", "", false},
		{"{" + id + "}", "", false},
		{"urn:uuid:" + id, "", false},
		{"6f9619ff8b864011b42d00c04fc964ff", "6f9619ff8b864011b42d00c04fc964ff", true}, // a slug, not an id
		{"6f9619ff-8b86-4011-b42d-00c04fc964fg", "6f9619ff-8b86-4011-b42d-00c04fc964fg", true},
	}
	for _, tc := range tests {
		got, ok := normRef(tc.in)
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func TestHeaderRef(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want string
		err  bool
	}{
		{nil, "", false},
		{[]string{""}, "", false},
		{[]string{" \t"}, "", false},
		{[]string{" acme "}, "acme", false},
		{[]string{"acme", "acme"}, "", true},
		{[]string{"acme", ""}, "", true},
		{[]string{"a,b"}, "", true},
		{[]string{"acme\r\nX-Tenant-Org-Id: x"}, "", true},
	} {
		got, err := headerRef(tc.vals)
		if tc.err {
			assert.ErrorIs(t, err, ErrBadTenantHeader, "%q", tc.vals)
			continue
		}
		assert.NoError(t, err, "%q", tc.vals)
		assert.Equal(t, tc.want, got)
	}
}

// FuzzHeaderRef: any header value is refused or normalised to an ID or a
// slug; normalising is idempotent; nothing panics.
func FuzzHeaderRef(f *testing.F) {
	for _, s := range []string{"acme", "ACME", "6f9619ff-8b86-4011-b42d-00c04fc964ff", "", " ", "-", "a_b-c", strings.Repeat("z", 70), "\xff", "6F9619FF-8B86-4011-B42D-00C04FC964FF"} {
		f.Add(s, "")
		f.Add(s, "acme")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		vals := []string{a}
		if b != "" {
			vals = append(vals, b)
		}
		ref, err := headerRef(vals)
		if err != nil {
			require.ErrorIs(t, err, ErrBadTenantHeader)
			require.Empty(t, ref)
			return
		}
		if ref == "" {
			return
		}
		require.LessOrEqual(t, len(ref), 63)
		again, ok := normRef(ref)
		require.True(t, ok)
		require.Equal(t, ref, again)
		if !isIDRef(ref) {
			require.True(t, validSlug(ref), "%q", ref)
		}
	})
}
