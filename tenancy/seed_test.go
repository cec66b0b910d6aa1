package tenancy_test

import (
	"context"
	"crypto/subtle"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

// specSeed is the seed file example of SPEC §4, with a second org.
const specSeed = `
orgs:
  - { slug: acme, name: "Acme Inc", projects: [{ slug: web, name: Web }] }
  - { slug: globex, name: "Globex" }
users:
  - email: alice@acme.test
    password: "correct horse battery"     # hashed when loaded
    external_subject: "0b7f5e2c-uuid"
    platform_admin: false
    memberships: [{ org: acme, role: owner }, { org: globex, role: viewer }]
  - email: Root@Example.test
    password: "another one"
    platform_admin: true
  - external_subject: "supabase-sub-only"
    memberships: [{ org: globex, role: member }]
api_keys:
  - { org: acme, project: web, name: ci, role: member, scopes: [read, agents.run] }
  - { org: globex, name: ops, role: admin }
flags:
  rules:     [{ flag: route.qa, default_variant: legacy, rollout: { variant: shadow, percent: 0 } }]
  overrides: [{ flag: route.qa, org: acme, variant: shadow, reason: pilot }]
`

func TestLoadSeed(t *testing.T) {
	seed, err := tenancy.ParseSeed([]byte(specSeed))
	require.NoError(t, err)
	var flags struct {
		Rules []map[string]any `yaml:"rules"`
	}
	require.NoError(t, seed.Flags.Decode(&flags), "the flags section stays readable for the flags package")
	assert.Len(t, flags.Rules, 1)

	eachStore(t, func(t *testing.T, s tenancy.Store) {
		ctx := context.Background()
		res, err := tenancy.LoadSeed(ctx, s, seed)
		require.NoError(t, err)

		acme, globex := res.Orgs["acme"], res.Orgs["globex"]
		require.NotEmpty(t, acme.ID)
		web, err := s.GetProjectBySlug(ctx, acme.ID, "web")
		require.NoError(t, err)

		alice := res.Users["alice@acme.test"]
		ok, err := tenancy.VerifyPassword("correct horse battery", alice.PasswordHash)
		require.NoError(t, err)
		assert.True(t, ok, "passwords are stored as argon2id hashes")
		assert.False(t, strings.Contains(alice.PasswordHash, "horse"))
		assert.Equal(t, acme.ID, alice.DefaultOrgID, "the first membership is the default org")
		bySub, err := s.GetUserByExternalSubject(ctx, "0b7f5e2c-uuid")
		require.NoError(t, err)
		assert.Equal(t, alice.ID, bySub.ID)
		m, err := s.GetMembership(ctx, globex.ID, alice.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleViewer, m.Role)
		assert.True(t, res.Users["root@example.test"].PlatformAdmin)
		subOnly := res.Users["supabase-sub-only"]
		assert.Empty(t, subOnly.Email)
		assert.Equal(t, globex.ID, subOnly.DefaultOrgID)

		require.Len(t, res.APIKeys, 2)
		ci := res.APIKeys[0]
		assert.Equal(t, "acme", ci.Org)
		assert.Equal(t, "web", ci.Project)
		prefix, err := tenancy.ParseAPIKey(ci.Key)
		require.NoError(t, err, "seeded keys have the documented format")
		assert.Equal(t, ci.Prefix, prefix)
		k, err := s.GetAPIKeyByPrefix(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, 1, subtle.ConstantTimeCompare(tenancy.HashAPIKey(ci.Key), k.Hash))
		assert.Equal(t, web.ID, k.ProjectID)
		assert.Equal(t, acme.ID, k.OrgID)
		assert.Equal(t, []string{"read", "agents.run"}, k.Scopes)
		assert.Equal(t, tenancy.RoleMember, k.Role)

		again, err := tenancy.LoadSeed(ctx, s, seed)
		require.NoError(t, err, "loading twice is harmless")
		assert.Equal(t, acme.ID, again.Orgs["acme"].ID)
		assert.Equal(t, alice.ID, again.Users["alice@acme.test"].ID)
		assert.Empty(t, again.APIKeys[0].Key, "no second key of the same name")
		assert.Equal(t, ci.Prefix, again.APIKeys[0].Prefix)
		keys, err := s.ListAPIKeys(ctx, acme.ID)
		require.NoError(t, err)
		assert.Len(t, keys, 1)
	})
}

func TestParseSeedHostile(t *testing.T) {
	tests := []struct {
		name, seed, want string
	}{
		{"unknown top-level key", "org: []", "field org not found"},
		{"unknown nested key", "orgs: [{slug: a, name: A, owner: x}]", "field owner not found"},
		{"wrong type", "orgs: {slug: a}", "cannot unmarshal"},
		{"bad org slug", "orgs: [{slug: 'Not OK', name: A}]", "orgs[0].slug"},
		{"uuid slug", "orgs: [{slug: 6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a, name: A}]", "orgs[0].slug"},
		{"duplicate org", "orgs: [{slug: a, name: A}, {slug: A, name: B}]", "orgs[1].slug"},
		{"empty org name", "orgs: [{slug: a, name: ''}]", "orgs[0].name"},
		{"bad project", "orgs: [{slug: a, name: A, projects: [{slug: '', name: P}]}]", "orgs[0].projects[0].slug"},
		{"user without identity", "users: [{password: x}]", "users[0]"},
		{"bad email", "users: [{email: nope}]", "users[0].email"},
		{"duplicate user", "users: [{email: a@b.c}, {email: A@B.C}]", "users[1]"},
		{"bad role", "users: [{email: a@b.c, memberships: [{org: a, role: god}]}]", "users[0].memberships[0].role"},
		{"membership without org", "users: [{email: a@b.c, memberships: [{role: owner}]}]", "users[0].memberships[0].org"},
		{"huge password", "users: [{email: a@b.c, password: '" + strings.Repeat("p", 2000) + "'}]", "users[0].password"},
		{"key without org", "api_keys: [{name: k, role: member}]", "api_keys[0].org"},
		{"key with unknown project", "orgs: [{slug: a, name: A}]\napi_keys: [{org: a, project: nope, name: k, role: member}]", "api_keys[0].project"},
		{"key with bad role", "api_keys: [{org: a, name: k, role: root}]", "api_keys[0].role"},
		{"not yaml", "{{{", "seed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tenancy.ParseSeed([]byte(tc.seed))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	s, err := tenancy.ParseSeed(nil)
	require.NoError(t, err, "an empty file is an empty seed")
	assert.Empty(t, s.Orgs)
}

func TestLoadSeedUnknownOrg(t *testing.T) {
	seed, err := tenancy.ParseSeed([]byte("users: [{email: a@b.c, memberships: [{org: ghost, role: member}]}]"))
	require.NoError(t, err, "orgs outside the file may exist in the store")
	_, err = tenancy.LoadSeed(context.Background(), tenancy.NewMemoryStore(), seed)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	assert.Contains(t, err.Error(), "users[0].memberships[0].org")
}

func FuzzParseSeed(f *testing.F) {
	f.Add(specSeed)
	f.Add("orgs: [{slug: a, name: A}]")
	f.Add("users: [{email: a@b.c, memberships: [{org: a, role: owner}]}]")
	f.Fuzz(func(t *testing.T, data string) {
		s, err := tenancy.ParseSeed([]byte(data))
		if err != nil {
			return
		}
		// Whatever parses is valid, and loads into a store without a crash.
		require.NoError(t, s.Validate())
		if len(s.Users) > 3 {
			return // keep argon2id hashing out of the hot fuzz loop
		}
		for i := range s.Users {
			s.Users[i].Password = "" // hashing is slow and tested elsewhere
		}
		_, _ = tenancy.LoadSeed(context.Background(), tenancy.NewMemoryStore(), s)
	})
}
