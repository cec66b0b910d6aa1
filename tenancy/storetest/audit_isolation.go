package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

func testAudit(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	actor := newUser(t, s)
	a, b := newOrg(t, s, actor.ID), newOrg(t, s, "")

	t.Run("append and read back", func(t *testing.T) {
		require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{
			OrgID: a.ID, ActorType: tenancy.ActorUser, ActorID: actor.ID, Actor: actor.Email,
			Action: "member.update", TargetType: "membership", TargetID: "m-1",
			Before: json.RawMessage(`{"role": "viewer"}`), After: json.RawMessage(`{"role":"admin","n":[1,2]}`),
			Reason: "promotion", RequestID: "req-1", ClientIP: "198.51.100.4",
		}))
		page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: a.ID})
		require.NoError(t, err)
		require.Len(t, page.Entries, 1)
		e := page.Entries[0]
		assert.NotEmpty(t, e.ID)
		requireRecent(t, e.CreatedAt)
		assert.Equal(t, a.ID, e.OrgID)
		assert.Equal(t, tenancy.ActorUser, e.ActorType)
		assert.Equal(t, actor.ID, e.ActorID)
		assert.Equal(t, actor.Email, e.Actor)
		assert.Equal(t, "member.update", e.Action)
		assert.Equal(t, "membership", e.TargetType)
		assert.Equal(t, "m-1", e.TargetID)
		assert.JSONEq(t, `{"role":"viewer"}`, string(e.Before))
		assert.JSONEq(t, `{"role":"admin","n":[1,2]}`, string(e.After))
		assert.Equal(t, "promotion", e.Reason)
		assert.Equal(t, "req-1", e.RequestID)
		assert.Equal(t, "198.51.100.4", e.ClientIP)
		assert.Empty(t, page.NextCursor)
	})

	t.Run("invalid", func(t *testing.T) {
		for _, e := range []tenancy.AuditEntry{
			{OrgID: a.ID, ActorType: "robot", Action: "x"},
			{OrgID: a.ID, ActorType: tenancy.ActorSystem, Action: ""},
			{OrgID: a.ID, ActorType: tenancy.ActorSystem, Action: "x", Before: json.RawMessage(`{not json`)},
			{OrgID: a.ID, ActorType: tenancy.ActorSystem, Action: "x", ClientIP: "300.1.1.1"},
			{OrgID: "acme", ActorType: tenancy.ActorSystem, Action: "x"},
		} {
			assert.ErrorIs(t, s.AppendAudit(ctx, e), tenancy.ErrInvalid, "%+v", e)
		}
		_, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{})
		assert.ErrorIs(t, err, tenancy.ErrInvalid, "an org listing needs the org")
		_, err = s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: a.ID, Cursor: "garbage"})
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
	})

	t.Run("filters paging and platform view", func(t *testing.T) {
		org := newOrg(t, s, "")
		for i := range 7 {
			action := "project.create"
			if i%2 == 1 {
				action = "project.delete"
			}
			require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{
				OrgID: org.ID, ActorType: tenancy.ActorAPIKey, ActorID: fmt.Sprintf("key-%d", i%3),
				Action: action, TargetType: "project", TargetID: fmt.Sprintf("p-%d", i),
			}))
		}
		require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{OrgID: b.ID, ActorType: tenancy.ActorSystem, Action: "project.create"}))
		require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{ActorType: tenancy.ActorAdminToken, ActorID: "tok", Action: "kill_switch.set", Reason: "incident"}))

		var all []tenancy.AuditEntry
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Entries), 3)
			all = append(all, page.Entries...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		require.Len(t, all, 7, "paging returns every entry once")
		for i, e := range all {
			assert.Equal(t, fmt.Sprintf("p-%d", 6-i), e.TargetID, "newest first")
			assert.Equal(t, org.ID, e.OrgID)
		}

		page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, Action: "project.delete"})
		require.NoError(t, err)
		assert.Len(t, page.Entries, 3)
		page, err = s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, ActorID: "key-0"})
		require.NoError(t, err)
		assert.Len(t, page.Entries, 3) // i = 0, 3, 6
		page, err = s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, TargetType: "project", TargetID: "p-4"})
		require.NoError(t, err)
		require.Len(t, page.Entries, 1)
		mid := all[3].CreatedAt // p-3
		page, err = s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, Since: mid})
		require.NoError(t, err)
		for _, e := range page.Entries {
			assert.False(t, e.CreatedAt.Before(mid))
		}
		assert.GreaterOrEqual(t, len(page.Entries), 4)
		page, err = s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: org.ID, Until: mid})
		require.NoError(t, err)
		for _, e := range page.Entries {
			assert.True(t, e.CreatedAt.Before(mid))
		}
		assert.LessOrEqual(t, len(page.Entries), 3)

		platform, err := s.ListPlatformAuditEntries(ctx, tenancy.AuditFilter{Limit: 1000})
		require.NoError(t, err)
		seen := map[string]int{}
		for _, e := range platform.Entries {
			seen[e.OrgID]++
		}
		assert.Equal(t, 7, seen[org.ID], "the platform view sees every org")
		assert.Equal(t, 1, seen[b.ID])
		assert.GreaterOrEqual(t, seen[""], 1, "and platform-level entries")
		assert.Equal(t, "kill_switch.set", platform.Entries[0].Action, "newest first")
		assert.Empty(t, platform.Entries[0].OrgID)

		f := tenancy.AuditFilter{OrgID: org.ID, Action: "project.create", ActorID: "key-0", Limit: 1}
		one, err := s.ListPlatformAuditEntries(ctx, f)
		require.NoError(t, err)
		require.Len(t, one.Entries, 1) // creates by key-0: i = 6, then i = 0
		assert.Equal(t, "p-6", one.Entries[0].TargetID)
		require.NotEmpty(t, one.NextCursor)
		f.Cursor = one.NextCursor
		next, err := s.ListPlatformAuditEntries(ctx, f)
		require.NoError(t, err)
		require.Len(t, next.Entries, 1)
		assert.Equal(t, "p-0", next.Entries[0].TargetID)
		assert.Empty(t, next.NextCursor, "no cursor on the last page")
		f.ActorID = "key-1" // i = 4 only
		f.Cursor = ""
		last, err := s.ListPlatformAuditEntries(ctx, f)
		require.NoError(t, err)
		require.Len(t, last.Entries, 1)
		assert.Equal(t, "p-4", last.Entries[0].TargetID)
		assert.Empty(t, last.NextCursor, "a full page is the last when nothing more matches")

		other, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: b.ID})
		require.NoError(t, err)
		require.Len(t, other.Entries, 1, "an org sees only its own entries")
	})
}

// testTenantIsolation: an operation scoped to org A never sees, changes or
// deletes org B's data, whatever IDs it is given.
func testTenantIsolation(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	ua, ub := newUser(t, s), newUser(t, s)
	a, b := newOrg(t, s, ua.ID), newOrg(t, s, ub.ID)
	pb := newProject(t, s, b.ID)
	_, err := s.AddProjectMember(ctx, b.ID, pb.ID, ub.ID, tenancy.RoleAdmin)
	require.NoError(t, err)
	kb := newAPIKey(t, s, b.ID, pb.ID)
	invB, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: b.ID, Email: uniq("x-") + "@example.test", Role: tenancy.RoleMember})
	require.NoError(t, err)
	require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{OrgID: b.ID, ActorType: tenancy.ActorSystem, Action: "secret.b"}))

	nf := func(err error, what string) { assert.ErrorIs(t, err, tenancy.ErrNotFound, what) }
	_, err = s.GetProject(ctx, a.ID, pb.ID)
	nf(err, "get project")
	_, err = s.GetProjectBySlug(ctx, a.ID, pb.Slug)
	nf(err, "get project by slug")
	_, err = s.UpdateProject(ctx, a.ID, pb.ID, tenancy.ProjectPatch{Name: ptr("pwned")})
	nf(err, "update project")
	nf(s.DeleteProject(ctx, a.ID, pb.ID), "delete project")
	_, err = s.GetMembership(ctx, a.ID, ub.ID)
	nf(err, "get membership")
	_, err = s.UpdateMemberRole(ctx, a.ID, ub.ID, tenancy.RoleViewer)
	nf(err, "update member")
	nf(s.RemoveMember(ctx, a.ID, ub.ID), "remove member")
	_, err = s.GetProjectMembership(ctx, a.ID, pb.ID, ub.ID)
	nf(err, "get project membership")
	_, err = s.ListProjectMembers(ctx, a.ID, pb.ID)
	nf(err, "list project members")
	_, err = s.UpdateProjectMemberRole(ctx, a.ID, pb.ID, ub.ID, tenancy.RoleViewer)
	nf(err, "update project member")
	nf(s.RemoveProjectMember(ctx, a.ID, pb.ID, ub.ID), "remove project member")
	_, err = s.AddProjectMember(ctx, a.ID, pb.ID, ua.ID, tenancy.RoleAdmin)
	nf(err, "add to another org's project")
	_, err = s.GetAPIKey(ctx, a.ID, kb.ID)
	nf(err, "get api key")
	_, err = s.RevokeAPIKey(ctx, a.ID, kb.ID)
	nf(err, "revoke api key")
	nf(s.RevokeInvitation(ctx, a.ID, invB.ID), "revoke invitation")
	nf(s.SetDefaultOrg(ctx, ua.ID, b.ID), "default org of a non-member")

	ps, err := s.ListProjects(ctx, a.ID)
	require.NoError(t, err)
	assert.Empty(t, ps)
	ms, err := s.ListMembers(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, ua.ID, ms[0].UserID)
	ks, err := s.ListAPIKeys(ctx, a.ID)
	require.NoError(t, err)
	assert.Empty(t, ks)
	is, err := s.ListInvitations(ctx, a.ID)
	require.NoError(t, err)
	assert.Empty(t, is)
	page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: a.ID})
	require.NoError(t, err)
	assert.Empty(t, page.Entries)

	// Org B is untouched.
	p, err := s.GetProject(ctx, b.ID, pb.ID)
	require.NoError(t, err)
	assert.Equal(t, pb, p)
	m, err := s.GetMembership(ctx, b.ID, ub.ID)
	require.NoError(t, err)
	assert.Equal(t, tenancy.RoleOwner, m.Role)
	_, err = s.GetProjectMembership(ctx, b.ID, pb.ID, ub.ID)
	require.NoError(t, err)
	k, err := s.GetAPIKey(ctx, b.ID, kb.ID)
	require.NoError(t, err)
	assert.True(t, k.RevokedAt.IsZero())
	is, err = s.ListInvitations(ctx, b.ID)
	require.NoError(t, err)
	assert.Len(t, is, 1)
}
