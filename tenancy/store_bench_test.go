package tenancy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// benchData is a populated store and keys into it.
type benchData struct {
	prefixes []string
	members  [][2]string // org, user
	subjects []string
}

// populate fills s with orgs × usersPerOrg users, one API key per user, each
// user a member of its org and with an external subject.
func populate(b *testing.B, s tenancy.Store, orgs, usersPerOrg int) benchData {
	b.Helper()
	ctx := context.Background()
	var d benchData
	for i := range orgs {
		o, err := s.CreateOrg(ctx, tenancy.Org{Slug: fmt.Sprintf("org-%d", i), Name: "Org"}, "")
		require.NoError(b, err)
		for j := range usersPerOrg {
			sub := fmt.Sprintf("sub-%d-%d", i, j)
			u, err := s.CreateUser(ctx, tenancy.User{Email: fmt.Sprintf("u%d-%d@example.test", i, j), ExternalSubject: sub})
			require.NoError(b, err)
			_, err = s.AddMember(ctx, o.ID, u.ID, tenancy.RoleMember)
			require.NoError(b, err)
			_, prefix, hash := tenancy.GenerateAPIKey()
			_, err = s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: o.ID, Name: "k", Prefix: prefix, Hash: hash, Role: tenancy.RoleMember, Scopes: []string{"read"}})
			require.NoError(b, err)
			d.prefixes = append(d.prefixes, prefix)
			d.members = append(d.members, [2]string{o.ID, u.ID})
			d.subjects = append(d.subjects, sub)
		}
	}
	return d
}

// benchLookups runs the three hot lookups of authentication against s.
func benchLookups(b *testing.B, s tenancy.Store, d benchData) {
	ctx := context.Background()
	b.Run("APIKeyByPrefix", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.GetAPIKeyByPrefix(ctx, d.prefixes[i%len(d.prefixes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("MembershipRole", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m := d.members[i%len(d.members)]
			if _, err := s.GetMembership(ctx, m[0], m[1]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("UserByExternalSubject", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.GetUserByExternalSubject(ctx, d.subjects[i%len(d.subjects)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("APIKeyByPrefixParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.GetAPIKeyByPrefix(ctx, d.prefixes[i%len(d.prefixes)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkMemoryStoreLookups: 100 orgs × 100 users (10 000 users, keys and
// memberships).
func BenchmarkMemoryStoreLookups(b *testing.B) {
	s := tenancy.NewMemoryStore()
	benchLookups(b, s, populate(b, s, 100, 100))
}

// BenchmarkPostgresStoreLookups: 20 orgs × 50 users, as strangler_app over
// TCP on localhost, the pool's default size.
func BenchmarkPostgresStoreLookups(b *testing.B) {
	_, appURL := pgtest.Migrated(b)
	s := tenancy.NewPostgresStore(pgtest.Pool(b, appURL))
	b.Cleanup(s.Close)
	benchLookups(b, s, populate(b, s, 20, 50))
}
