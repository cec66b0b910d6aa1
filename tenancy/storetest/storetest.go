// Package storetest is the contract suite of tenancy.Store: one set of
// tests that every implementation runs, so the memory and PostgreSQL stores
// cannot drift apart. A backend's own test file is a few lines:
//
//	func TestMemoryStore(t *testing.T) {
//		storetest.RunStoreTests(t, func(t *testing.T) tenancy.Store {
//			return tenancy.NewMemoryStore()
//		})
//	}
//
// Every group of tests gets a fresh store from newStore and runs in
// parallel with the other groups; tests inside a group share the store and
// use unique slugs and emails, so they never depend on each other's data.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

// RunStoreTests runs the whole contract against stores made by newStore.
// The stores must also implement tenancy.ChangeNotifier.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) tenancy.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, s tenancy.Store)
	}{
		{"Orgs", testOrgs},
		{"OrgDeleteCascade", testOrgDeleteCascade},
		{"Projects", testProjects},
		{"Users", testUsers},
		{"Memberships", testMemberships},
		{"LastOwner", testLastOwner},
		{"LastOwnerRace", testLastOwnerRace},
		{"ProjectMemberships", testProjectMemberships},
		{"Invitations", testInvitations},
		{"APIKeys", testAPIKeys},
		{"Sessions", testSessions},
		{"AdminTokens", testAdminTokens},
		{"Audit", testAudit},
		{"TenantIsolation", testTenantIsolation},
		{"Changes", testChanges},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore(t))
		})
	}
}

// uniq returns prefix followed by 8 random hex digits: slugs and emails
// that no other test uses.
func uniq(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// hash32 is a SHA-256 of s: token and key hashes in tests.
func hash32(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// phc is a syntactically valid argon2id PHC string (the store never
// verifies it).
const phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

func newOrg(t *testing.T, s tenancy.Store, owner string) tenancy.Org {
	t.Helper()
	o, err := s.CreateOrg(context.Background(), tenancy.Org{Slug: uniq("org-"), Name: "Org"}, owner)
	require.NoError(t, err)
	return o
}

func newUser(t *testing.T, s tenancy.Store) tenancy.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), tenancy.User{Email: uniq("user-") + "@example.test", PasswordHash: phc})
	require.NoError(t, err)
	return u
}

func newProject(t *testing.T, s tenancy.Store, orgID string) tenancy.Project {
	t.Helper()
	p, err := s.CreateProject(context.Background(), tenancy.Project{OrgID: orgID, Slug: uniq("p-"), Name: "Project"})
	require.NoError(t, err)
	return p
}

func newAPIKey(t *testing.T, s tenancy.Store, orgID, projectID string) tenancy.APIKey {
	t.Helper()
	prefix := uniq("sk_test_")
	k, err := s.CreateAPIKey(context.Background(), tenancy.APIKey{
		OrgID: orgID, ProjectID: projectID, Name: "ci", Prefix: prefix,
		Hash: hash32(prefix), Role: tenancy.RoleMember, Scopes: []string{"read"},
	})
	require.NoError(t, err)
	return k
}

// missingID is a well-formed ID that no entity has.
const missingID = "00000000-0000-4000-8000-000000000000"

// requireRecent checks a store-set timestamp: set, UTC-comparable, and
// within a minute of the test's clock (stores may use the database clock).
func requireRecent(t *testing.T, ts time.Time) {
	t.Helper()
	require.False(t, ts.IsZero(), "timestamp not set")
	require.WithinDuration(t, time.Now(), ts, time.Minute)
}
