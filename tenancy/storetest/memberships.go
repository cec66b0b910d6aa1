package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

func testMemberships(t *testing.T, s tenancy.Store) {
	ctx := context.Background()

	t.Run("add get list change remove", func(t *testing.T) {
		owner := newUser(t, s)
		o := newOrg(t, s, owner.ID)
		u := newUser(t, s)
		m, err := s.AddMember(ctx, o.ID, u.ID, tenancy.RoleViewer)
		require.NoError(t, err)
		assert.Equal(t, tenancy.Membership{OrgID: o.ID, UserID: u.ID, Role: tenancy.RoleViewer, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}, m)
		requireRecent(t, m.CreatedAt)

		got, err := s.GetMembership(ctx, o.ID, u.ID)
		require.NoError(t, err)
		assert.Equal(t, m, got)
		got, err = s.GetMembership(ctx, strings.ToUpper(o.ID), strings.ToUpper(u.ID))
		require.NoError(t, err, "IDs are case-insensitive")
		assert.Equal(t, m, got)

		members, err := s.ListMembers(ctx, o.ID)
		require.NoError(t, err)
		require.Len(t, members, 2)
		byUser := map[string]tenancy.Member{}
		for _, mm := range members {
			byUser[mm.UserID] = mm
		}
		assert.Equal(t, u.Email, byUser[u.ID].Email)
		assert.Equal(t, tenancy.RoleViewer, byUser[u.ID].Role)
		assert.Equal(t, owner.Email, byUser[owner.ID].Email)
		assert.Equal(t, tenancy.RoleOwner, byUser[owner.ID].Role)
		assert.Less(t, members[0].Email, members[1].Email, "ordered by email")

		up, err := s.UpdateMemberRole(ctx, o.ID, u.ID, tenancy.RoleAdmin)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleAdmin, up.Role)
		assert.Equal(t, m.CreatedAt, up.CreatedAt)
		got, err = s.GetMembership(ctx, o.ID, u.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleAdmin, got.Role)

		require.NoError(t, s.RemoveMember(ctx, o.ID, u.ID))
		_, err = s.GetMembership(ctx, o.ID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		assert.ErrorIs(t, s.RemoveMember(ctx, o.ID, u.ID), tenancy.ErrNotFound)
		_, err = s.UpdateMemberRole(ctx, o.ID, u.ID, tenancy.RoleMember)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		ms, err := s.ListUserMemberships(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, ms)
	})

	t.Run("rules", func(t *testing.T) {
		o := newOrg(t, s, "")
		u := newUser(t, s)
		_, err := s.AddMember(ctx, o.ID, u.ID, "superuser")
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.AddMember(ctx, o.ID, u.ID, "")
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.AddMember(ctx, o.ID, missingID, tenancy.RoleMember)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.AddMember(ctx, missingID, u.ID, tenancy.RoleMember)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.AddMember(ctx, o.ID, u.ID, tenancy.RoleMember)
		require.NoError(t, err)
		_, err = s.AddMember(ctx, o.ID, u.ID, tenancy.RoleAdmin)
		assert.ErrorIs(t, err, tenancy.ErrConflict)
		_, err = s.UpdateMemberRole(ctx, o.ID, u.ID, "root")
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.GetMembership(ctx, o.ID, "not-an-id")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetMembership(ctx, missingID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
	})

	t.Run("removal clears the default org and project roles", func(t *testing.T) {
		owner := newUser(t, s)
		o := newOrg(t, s, owner.ID)
		u := newUser(t, s)
		_, err := s.AddMember(ctx, o.ID, u.ID, tenancy.RoleMember)
		require.NoError(t, err)
		require.NoError(t, s.SetDefaultOrg(ctx, u.ID, o.ID))
		p := newProject(t, s, o.ID)
		_, err = s.AddProjectMember(ctx, o.ID, p.ID, u.ID, tenancy.RoleAdmin)
		require.NoError(t, err)

		require.NoError(t, s.RemoveMember(ctx, o.ID, u.ID))
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, got.DefaultOrgID)
		_, err = s.GetProjectMembership(ctx, o.ID, p.ID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
	})

	t.Run("list members of an empty org", func(t *testing.T) {
		ms, err := s.ListMembers(ctx, newOrg(t, s, "").ID)
		require.NoError(t, err)
		assert.NotNil(t, ms)
		assert.Empty(t, ms)
	})
}

func testLastOwner(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	owner := newUser(t, s)
	o := newOrg(t, s, owner.ID)

	_, err := s.UpdateMemberRole(ctx, o.ID, owner.ID, tenancy.RoleAdmin)
	assert.ErrorIs(t, err, tenancy.ErrLastOwner)
	assert.ErrorIs(t, s.RemoveMember(ctx, o.ID, owner.ID), tenancy.ErrLastOwner)
	m, err := s.GetMembership(ctx, o.ID, owner.ID)
	require.NoError(t, err)
	assert.Equal(t, tenancy.RoleOwner, m.Role, "refused changes change nothing")

	_, err = s.UpdateMemberRole(ctx, o.ID, owner.ID, tenancy.RoleOwner)
	assert.NoError(t, err, "keeping the role is not a demotion")

	second := newUser(t, s)
	_, err = s.AddMember(ctx, o.ID, second.ID, tenancy.RoleMember)
	require.NoError(t, err)
	_, err = s.UpdateMemberRole(ctx, o.ID, second.ID, tenancy.RoleOwner)
	require.NoError(t, err)
	_, err = s.UpdateMemberRole(ctx, o.ID, owner.ID, tenancy.RoleViewer)
	require.NoError(t, err, "with two owners one may step down")
	_, err = s.UpdateMemberRole(ctx, o.ID, second.ID, tenancy.RoleAdmin)
	assert.ErrorIs(t, err, tenancy.ErrLastOwner)
	assert.ErrorIs(t, s.RemoveMember(ctx, o.ID, second.ID), tenancy.ErrLastOwner)
	require.NoError(t, s.RemoveMember(ctx, o.ID, owner.ID), "a non-owner can always leave")

	// Another org's owners do not count.
	other := newOrg(t, s, second.ID)
	_, err = s.AddMember(ctx, other.ID, owner.ID, tenancy.RoleOwner)
	require.NoError(t, err)
	assert.ErrorIs(t, s.RemoveMember(ctx, o.ID, second.ID), tenancy.ErrLastOwner)

	// Deleting the org is not removing its last owner.
	require.NoError(t, s.DeleteOrg(ctx, o.ID))
}

// testLastOwnerRace: two owners demote (or remove) each other at the same
// moment; exactly one change may win, or the org would end without an owner.
func testLastOwnerRace(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	for round := range 10 {
		a, b := newUser(t, s), newUser(t, s)
		o := newOrg(t, s, a.ID)
		_, err := s.AddMember(ctx, o.ID, b.ID, tenancy.RoleOwner)
		require.NoError(t, err)

		remove := round%2 == 1
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, u := range []tenancy.User{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if remove {
					errs[i] = s.RemoveMember(ctx, o.ID, u.ID)
				} else {
					_, errs[i] = s.UpdateMemberRole(ctx, o.ID, u.ID, tenancy.RoleMember)
				}
			}()
		}
		close(start)
		wg.Wait()

		ok, lastOwner := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tenancy.ErrLastOwner):
				lastOwner++
			default:
				t.Fatalf("round %d: unexpected error: %v", round, err)
			}
		}
		require.Equal(t, 1, ok, "round %d: exactly one change wins: %v", round, errs)
		require.Equal(t, 1, lastOwner, "round %d: the other is refused: %v", round, errs)

		members, err := s.ListMembers(ctx, o.ID)
		require.NoError(t, err)
		owners := 0
		for _, m := range members {
			if m.Role == tenancy.RoleOwner {
				owners++
			}
		}
		require.Equal(t, 1, owners, "round %d: the org keeps one owner", round)
	}
}

func testProjectMemberships(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	owner := newUser(t, s)
	o := newOrg(t, s, owner.ID)
	p := newProject(t, s, o.ID)
	u := newUser(t, s)

	_, err := s.AddProjectMember(ctx, o.ID, p.ID, u.ID, tenancy.RoleAdmin)
	assert.ErrorIs(t, err, tenancy.ErrNotFound, "only org members join projects")
	_, err = s.AddMember(ctx, o.ID, u.ID, tenancy.RoleViewer)
	require.NoError(t, err)
	_, err = s.AddProjectMember(ctx, o.ID, p.ID, u.ID, "boss")
	assert.ErrorIs(t, err, tenancy.ErrInvalid)
	_, err = s.AddProjectMember(ctx, o.ID, missingID, u.ID, tenancy.RoleAdmin)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)

	pm, err := s.AddProjectMember(ctx, o.ID, p.ID, u.ID, tenancy.RoleAdmin)
	require.NoError(t, err)
	assert.Equal(t, p.ID, pm.ProjectID)
	assert.Equal(t, o.ID, pm.OrgID)
	assert.Equal(t, u.ID, pm.UserID)
	assert.Equal(t, tenancy.RoleAdmin, pm.Role)
	requireRecent(t, pm.CreatedAt)
	_, err = s.AddProjectMember(ctx, o.ID, p.ID, u.ID, tenancy.RoleMember)
	assert.ErrorIs(t, err, tenancy.ErrConflict)

	got, err := s.GetProjectMembership(ctx, o.ID, p.ID, u.ID)
	require.NoError(t, err)
	assert.Equal(t, pm, got)

	_, err = s.AddProjectMember(ctx, o.ID, p.ID, owner.ID, tenancy.RoleViewer)
	require.NoError(t, err)
	list, err := s.ListProjectMembers(ctx, o.ID, p.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Less(t, list[0].UserID, list[1].UserID, "ordered by user id")

	up, err := s.UpdateProjectMemberRole(ctx, o.ID, p.ID, u.ID, tenancy.RoleViewer)
	require.NoError(t, err)
	assert.Equal(t, tenancy.RoleViewer, up.Role)
	_, err = s.UpdateProjectMemberRole(ctx, o.ID, p.ID, u.ID, "x")
	assert.ErrorIs(t, err, tenancy.ErrInvalid)

	require.NoError(t, s.RemoveProjectMember(ctx, o.ID, p.ID, u.ID))
	_, err = s.GetProjectMembership(ctx, o.ID, p.ID, u.ID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	assert.ErrorIs(t, s.RemoveProjectMember(ctx, o.ID, p.ID, u.ID), tenancy.ErrNotFound)
	_, err = s.UpdateProjectMemberRole(ctx, o.ID, p.ID, u.ID, tenancy.RoleAdmin)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)

	_, err = s.ListProjectMembers(ctx, o.ID, missingID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
}
