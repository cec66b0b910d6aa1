package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// TestAuthReplicasFollowChanges: two replicas — two proxy.Servers, each
// with its own pool, store, caches and change listener — on one database,
// connecting as strangler_app. A change made through replica A reaches
// replica B's warm caches within 1 s (SPEC §6, §12): a revoked key, a
// removed member, a demoted member, a deleted org's keys.
//
// The caches are warmed first and B's change feed is live, so its entries
// carry their full TTLs (minutes): only the LISTEN/NOTIFY path can make B
// refuse within the second.
func TestAuthReplicasFollowChanges(t *testing.T) {
	_, appURL := pgtest.Migrated(t)
	storeA := authPostgresStore(t, appURL)
	seed := authSeedTenancy(t, storeA)
	key, err := tenancy.GenerateSigningKey()
	require.NoError(t, err)
	// Replicas share the issuer's key (auth.issuer.signing_key_file).
	signer, err := tenancy.NewSignerWithKeys(tenancy.SignerOptions{Issuer: authBuiltinIss}, key)
	require.NoError(t, err)
	es, up := newAuthESIssuer(t), newAuthUpstream(t)
	a := newAuthEnv(t, authEnvOptions{store: storeA, seed: seed, signer: signer, es: es, upstream: up})
	b := newAuthEnv(t, authEnvOptions{store: authPostgresStore(t, appURL), seed: seed, signer: signer, es: es, upstream: up})
	for _, env := range []*authEnv{a, b} {
		require.Eventually(t, env.stack.ChangeFeedLive, 10*time.Second, 5*time.Millisecond, "change feed live")
	}

	ctx := context.Background()
	memberKey := authKey(seed.keys["acme-member"])
	betaKey := authKey(seed.keys["beta-admin"])
	alice, bob := authBearer(b.userToken(t, seed.alice)), authBearer(b.userToken(t, seed.bob))
	status := func(env *authEnv, method, path string, hdrs map[string][]string) int {
		res, _ := env.do(t, method, path, hdrs)
		return res.StatusCode
	}
	// Warm B (and A).
	for _, env := range []*authEnv{a, b} {
		require.Equal(t, http.StatusOK, status(env, "GET", "/api/posts", memberKey))
		require.Equal(t, http.StatusOK, status(env, "GET", "/api/posts", betaKey))
		require.Equal(t, http.StatusOK, status(env, "GET", "/api/posts", bob))
		require.Equal(t, http.StatusOK, status(env, "POST", "/api/posts", alice))
	}
	within := func(what string, cond func() bool) {
		t.Helper()
		require.Eventually(t, cond, time.Second, 5*time.Millisecond, "%s did not reach replica B within 1s", what)
	}

	_, err = storeA.RevokeAPIKey(ctx, seed.acme.ID, seed.keyIDs["acme-member"])
	require.NoError(t, err)
	within("key revocation", func() bool { return status(b, "GET", "/api/posts", memberKey) == http.StatusUnauthorized })

	require.NoError(t, storeA.RemoveMember(ctx, seed.acme.ID, seed.bob.ID))
	within("member removal", func() bool { return status(b, "GET", "/api/posts", bob) == http.StatusForbidden })

	_, err = storeA.UpdateMemberRole(ctx, seed.acme.ID, seed.alice.ID, tenancy.RoleViewer)
	require.ErrorIs(t, err, tenancy.ErrLastOwner, "alice is acme's only owner")
	_, err = storeA.AddMember(ctx, seed.acme.ID, seed.bob.ID, tenancy.RoleOwner)
	require.NoError(t, err)
	_, err = storeA.UpdateMemberRole(ctx, seed.acme.ID, seed.alice.ID, tenancy.RoleViewer)
	require.NoError(t, err)
	within("role change", func() bool { return status(b, "POST", "/api/posts", alice) == http.StatusForbidden })
	within("membership addition", func() bool { return status(b, "GET", "/api/posts", bob) == http.StatusOK })

	require.NoError(t, storeA.DeleteOrg(ctx, seed.beta.ID))
	within("org deletion", func() bool { return status(b, "GET", "/api/posts", betaKey) == http.StatusUnauthorized })

	// And A, where the changes were made, agrees.
	require.Equal(t, http.StatusUnauthorized, status(a, "GET", "/api/posts", memberKey))
	require.Equal(t, http.StatusForbidden, status(a, "POST", "/api/posts", alice))
}
