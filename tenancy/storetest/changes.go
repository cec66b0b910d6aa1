package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

// recorder collects changes delivered to a subscriber.
type recorder struct {
	mu      sync.Mutex
	changes []tenancy.Change
}

func (r *recorder) add(c tenancy.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.changes = nil
	r.mu.Unlock()
}

func (r *recorder) snapshot() []tenancy.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tenancy.Change(nil), r.changes...)
}

func (r *recorder) has(match func(tenancy.Change) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.changes {
		if match(c) {
			return true
		}
	}
	return false
}

// testChanges: every change that narrows access reaches subscribers within
// a second — what caches in front of the store rely on.
func testChanges(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	n, ok := s.(tenancy.ChangeNotifier)
	require.True(t, ok, "stores implement tenancy.ChangeNotifier")
	rec := &recorder{}
	cancel := n.Subscribe(rec.add)
	defer cancel()
	require.Eventually(t, func() bool {
		return rec.has(func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeAll })
	}, 5*time.Second, 5*time.Millisecond, "a subscription starts with ChangeAll once it is live")

	owner, member := newUser(t, s), newUser(t, s)
	o := newOrg(t, s, owner.ID)
	require.Eventually(t, func() bool {
		return rec.has(func(c tenancy.Change) bool {
			return c.Kind == tenancy.ChangeMembership && c.OrgID == o.ID && c.UserID == owner.ID
		})
	}, time.Second, 5*time.Millisecond, "creating an org with an owner announces the owner's membership")
	p := newProject(t, s, o.ID)
	k := newAPIKey(t, s, o.ID, "")
	x, err := s.CreateSession(ctx, tenancy.Session{UserID: member.ID, TokenHash: hash32(uniq("rt")), ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	tok, err := s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "t", Hash: hash32(uniq("at"))})
	require.NoError(t, err)

	eventually := func(what string, match func(tenancy.Change) bool) {
		t.Helper()
		if !assert.Eventually(t, func() bool { return rec.has(match) }, time.Second, 5*time.Millisecond) {
			t.Fatalf("no %s change within 1s; got %+v", what, rec.snapshot())
		}
	}

	_, err = s.AddMember(ctx, o.ID, member.ID, tenancy.RoleMember)
	require.NoError(t, err)
	eventually("membership add", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeMembership && c.OrgID == o.ID && c.UserID == member.ID
	})
	rec.reset()
	_, err = s.UpdateMemberRole(ctx, o.ID, member.ID, tenancy.RoleViewer)
	require.NoError(t, err)
	eventually("membership update", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeMembership && c.OrgID == o.ID && c.UserID == member.ID
	})
	rec.reset()
	require.NoError(t, s.RemoveMember(ctx, o.ID, member.ID))
	eventually("membership removal", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeMembership && c.OrgID == o.ID && c.UserID == member.ID
	})

	_, err = s.RevokeAPIKey(ctx, o.ID, k.ID)
	require.NoError(t, err)
	eventually("api key revocation", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeAPIKey && c.OrgID == o.ID && c.ID == k.ID
	})

	require.NoError(t, s.SetPlatformAdmin(ctx, owner.ID, true))
	eventually("user update", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeUser && c.UserID == owner.ID
	})

	require.NoError(t, s.RevokeSessionFamily(ctx, member.ID, x.FamilyID))
	eventually("session revocation", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeSession && c.UserID == member.ID && c.ID == x.FamilyID
	})
	require.NoError(t, s.RevokeUserSessions(ctx, member.ID))
	eventually("all sessions revocation", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeSession && c.UserID == member.ID && c.ID == ""
	})

	require.NoError(t, s.RevokeAdminToken(ctx, tok.ID))
	eventually("admin token revocation", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeAdminToken && c.ID == tok.ID
	})

	_, err = s.UpdateProject(ctx, o.ID, p.ID, tenancy.ProjectPatch{Name: ptr("renamed")})
	require.NoError(t, err)
	eventually("project update", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeProject && c.OrgID == o.ID && c.ID == p.ID
	})

	require.NoError(t, s.DeleteOrg(ctx, o.ID))
	eventually("org deletion", func(c tenancy.Change) bool {
		return c.Kind == tenancy.ChangeOrg && c.OrgID == o.ID && c.ID == o.ID
	})

	// A second subscriber hears the same changes; a cancelled one nothing.
	second := &recorder{}
	stop := n.Subscribe(second.add)
	require.Eventually(t, func() bool {
		return second.has(func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeAll })
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	rec.reset()
	quiet := newOrg(t, s, "")
	_, err = s.UpdateOrg(ctx, quiet.ID, tenancy.OrgPatch{Name: ptr("quiet")})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return second.has(func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeOrg && c.ID == quiet.ID })
	}, time.Second, 5*time.Millisecond)
	stop()
	require.False(t, rec.has(func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeOrg && c.ID == quiet.ID }),
		"a cancelled subscription hears nothing")
}
