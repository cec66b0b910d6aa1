package tenancy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/pgtest"
)

// Fixtures of the authentication and tenant-resolution tests: a seeded
// store (memory or PostgreSQL as strangler_app) and an AuthStack over it.

// storeKinds are the stores every resolution test runs against.
var storeKinds = []string{"memory", "postgres"}

// newStoreKind returns a fresh, empty store of the kind.
func newStoreKind(t testing.TB, kind string) Store {
	t.Helper()
	switch kind {
	case "memory":
		return NewMemoryStore()
	case "postgres":
		_, appURL := pgtest.Migrated(t)
		s := NewPostgresStore(pgtest.Pool(t, appURL), WithListenerReconnectDelay(50*time.Millisecond))
		t.Cleanup(s.Close)
		return s
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

// forEachStore runs fn once per store kind, as parallel subtests.
func forEachStore(t *testing.T, fn func(t *testing.T, s Store)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, newStoreKind(t, kind))
		})
	}
}

// authSeed is the tenancy data of the fixture.
//
//	orgs: legacy (tenancy.default_org), acme (projects web, mobile), beta (project api)
//	alice: owner of acme, default org acme
//	bob:   viewer of acme, default org acme
//	carol: member of acme, admin of beta, no default org
//	dave:  no membership
//	keys (plaintext by name): acme-member, acme-read (scopes read),
//	acme-web (bound to web), acme-revoked, acme-expired, beta-admin
type authSeed struct {
	legacy, acme, beta     Org
	web, mobile, api       Project
	alice, bob, carol, dav User
	keys                   map[string]string
	keyIDs                 map[string]string
}

func seedAuth(t testing.TB, s Store) *authSeed {
	t.Helper()
	ctx := context.Background()
	sd := &authSeed{keys: map[string]string{}, keyIDs: map[string]string{}}
	org := func(slug string) Org {
		o, err := s.CreateOrg(ctx, Org{Slug: slug, Name: slug}, "")
		require.NoError(t, err)
		return o
	}
	sd.legacy, sd.acme, sd.beta = org("legacy"), org("acme"), org("beta")
	proj := func(o Org, slug string) Project {
		p, err := s.CreateProject(ctx, Project{OrgID: o.ID, Slug: slug, Name: slug})
		require.NoError(t, err)
		return p
	}
	sd.web, sd.mobile, sd.api = proj(sd.acme, "web"), proj(sd.acme, "mobile"), proj(sd.beta, "api")
	user := func(email string) User {
		u, err := s.CreateUser(ctx, User{Email: email})
		require.NoError(t, err)
		return u
	}
	member := func(o Org, u User, r Role) {
		_, err := s.AddMember(ctx, o.ID, u.ID, r)
		require.NoError(t, err)
	}
	sd.alice, sd.bob, sd.carol, sd.dav = user("alice@acme.test"), user("bob@acme.test"), user("carol@acme.test"), user("dave@nowhere.test")
	member(sd.acme, sd.alice, RoleOwner)
	member(sd.acme, sd.bob, RoleViewer)
	member(sd.acme, sd.carol, RoleMember)
	member(sd.beta, sd.carol, RoleAdmin)
	require.NoError(t, s.SetDefaultOrg(ctx, sd.alice.ID, sd.acme.ID))
	require.NoError(t, s.SetDefaultOrg(ctx, sd.bob.ID, sd.acme.ID))

	key := func(name string, k APIKey) {
		plain, prefix, hash := GenerateAPIKey()
		k.Name, k.Prefix, k.Hash = name, prefix, hash
		created, err := s.CreateAPIKey(ctx, k)
		require.NoError(t, err)
		sd.keys[name], sd.keyIDs[name] = plain, created.ID
	}
	key("acme-member", APIKey{OrgID: sd.acme.ID, Role: RoleMember})
	key("acme-read", APIKey{OrgID: sd.acme.ID, Role: RoleMember, Scopes: []string{"read"}})
	key("acme-web", APIKey{OrgID: sd.acme.ID, ProjectID: sd.web.ID, Role: RoleMember, CreatedBy: sd.alice.ID})
	key("acme-revoked", APIKey{OrgID: sd.acme.ID, Role: RoleMember})
	key("acme-expired", APIKey{OrgID: sd.acme.ID, Role: RoleMember, ExpiresAt: time.Now().Add(-time.Hour)})
	key("beta-admin", APIKey{OrgID: sd.beta.ID, Role: RoleAdmin})
	_, err := s.RevokeAPIKey(ctx, sd.acme.ID, sd.keyIDs["acme-revoked"])
	require.NoError(t, err)
	return sd
}

// authFixture is a seeded store and a stack over it.
type authFixture struct {
	store  Store
	seed   *authSeed
	stack  *AuthStack
	signer *Signer
	clock  *testClock
}

// authTestConfig trusts a Supabase-shaped HS256 issuer and the built-in
// issuer.
func authTestConfig() *config.Config {
	cfg := config.Default()
	cfg.Auth.JWT = []config.JWTIssuer{supabaseEntry()}
	cfg.Auth.Issuer.Enabled = true
	config.ApplyDefaults(cfg)
	return cfg
}

type fixtureOption func(*AuthStackOptions)

func newAuthFixture(t testing.TB, s Store, opts ...fixtureOption) *authFixture {
	t.Helper()
	f := &authFixture{store: s, seed: seedAuth(t, s), clock: &testClock{t: time.Now()}}
	key, err := GenerateSigningKey()
	require.NoError(t, err)
	f.signer, err = NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.local", Now: f.clock.Now}, key)
	require.NoError(t, err)
	f.stack = newTestStack(t, s, f.signer, f.clock, opts...)
	return f
}

func newTestStack(t testing.TB, s Store, signer *Signer, clock *testClock, opts ...fixtureOption) *AuthStack {
	t.Helper()
	o := AuthStackOptions{Config: authTestConfig(), Store: s, Signer: signer, Now: clock.Now}
	for _, fn := range opts {
		fn(&o)
	}
	stack, err := NewAuthStack(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, stack.Close(ctx))
	})
	waitLive(t, stack)
	return stack
}

// waitLive waits for the stack's change feed to be live.
func waitLive(t testing.TB, s *AuthStack) {
	t.Helper()
	require.Eventually(t, s.caches.live.Load, 10*time.Second, 5*time.Millisecond, "change feed never went live")
}

// userToken is a built-in issuer access token of u.
func (f *authFixture) userToken(t testing.TB, u User, orgClaim string) string {
	t.Helper()
	tok, _, err := f.signer.SignAccessToken(AccessTokenClaims{UserID: u.ID, Email: u.Email, OrgID: orgClaim})
	require.NoError(t, err)
	return tok
}

// supabaseToken is an HS256 Supabase access token for subject sub, valid
// now (the fixture's clock).
func (f *authFixture) supabaseToken(t testing.TB, sub, email string, appMeta map[string]any) string {
	t.Helper()
	now := f.clock.Now()
	c := jwt.MapClaims{
		"iss": supabaseIss, "sub": sub, "aud": "authenticated", "role": "authenticated",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"email": email, "session_id": "5a1c0f2e-1111-2222-3333-444455556666", "is_anonymous": false,
		"aal": "aal1", "app_metadata": map[string]any{"provider": "email"},
		"user_metadata": map[string]any{"org_id": "org-the-user-wrote"},
	}
	if appMeta != nil {
		c["app_metadata"] = appMeta
	}
	return signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)
}

// request builds a request with the given headers (name → values).
func request(hdrs map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.test/api/x", nil)
	for k, vs := range hdrs {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// resolve authenticates r on an optional route and resolves it with perm.
func (f *authFixture) resolve(r *http.Request, perm string) (Resolution, error) {
	ctx := context.Background()
	p, err := f.stack.Authenticate(ctx, r, config.AuthOptional)
	if err != nil {
		return Resolution{}, err
	}
	return f.stack.Resolve(ctx, ResolveInput{
		Principal: p, Org: r.Header[f.stack.OrgHeader()], Project: r.Header[f.stack.ProjectHeader()], Permission: perm,
	})
}

// countingStore counts the store reads of the hot path and can hold
// membership reads, to test what reaches the store.
type countingStore struct {
	Store
	keyLookups    atomic.Int64
	memberLookups atomic.Int64
	userLookups   atomic.Int64
	touches       atomic.Int64

	mu          sync.Mutex
	touched     [][]string
	holdMember  chan struct{} // when set, GetMembership waits for it after reading
	holdKey     chan struct{} // when set, GetAPIKeyByPrefix waits for it after reading
	heldReading chan struct{}
}

func (c *countingStore) Subscribe(fn func(Change)) func() {
	return c.Store.(ChangeNotifier).Subscribe(fn)
}

func (c *countingStore) GetAPIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error) {
	c.keyLookups.Add(1)
	k, err := c.Store.GetAPIKeyByPrefix(ctx, prefix)
	c.mu.Lock()
	hold, reading := c.holdKey, c.heldReading
	c.mu.Unlock()
	if hold != nil {
		reading <- struct{}{}
		<-hold
	}
	return k, err
}

func (c *countingStore) GetMembership(ctx context.Context, orgID, userID string) (Membership, error) {
	c.memberLookups.Add(1)
	m, err := c.Store.GetMembership(ctx, orgID, userID)
	c.mu.Lock()
	hold, reading := c.holdMember, c.heldReading
	c.mu.Unlock()
	if hold != nil {
		reading <- struct{}{}
		<-hold
	}
	return m, err
}

func (c *countingStore) GetUser(ctx context.Context, userID string) (User, error) {
	c.userLookups.Add(1)
	return c.Store.GetUser(ctx, userID)
}

func (c *countingStore) TouchAPIKeys(ctx context.Context, ids []string, at time.Time) error {
	c.touches.Add(1)
	c.mu.Lock()
	c.touched = append(c.touched, append([]string(nil), ids...))
	c.mu.Unlock()
	return c.Store.TouchAPIKeys(ctx, ids, at)
}
