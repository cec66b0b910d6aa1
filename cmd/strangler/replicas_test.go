package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// replica is one `strangler serve` process.
type replica struct {
	public, admin string
	cmd           *exec.Cmd
}

const replicaAdminToken = "replica-admin-token-0123456789abcdef0123456789"

// startReplica runs `strangler serve` with cfgPath and waits until it is
// ready.
func startReplica(t *testing.T, cfgPath string, env ...string) *replica {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := lines(t, stderr)
	var seen []string
	var listening struct{ Public, Admin string }
	require.NoError(t, json.Unmarshal([]byte(waitLine(t, out, `"msg":"listening"`, &seen)), &listening))
	go func() {
		for range out {
		}
	}()
	r := &replica{public: "http://" + listening.Public, admin: "http://" + listening.Admin, cmd: cmd}
	require.Eventually(t, func() bool {
		res, err := http.Get(r.admin + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "replica not ready")
	return r
}

// get sends GET path with an API key and returns the status and the
// X-Strangler-Mode header (debug_headers is on).
func (r *replica) get(t *testing.T, path, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", r.public+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("X-Strangler-Mode")
}

// TestTwoServeProcessesShareChangesWithinOneSecond runs two real `strangler
// serve` processes on one PostgreSQL database (as the runtime role, under
// RLS). A flag change made through one replica's admin API, and a key
// revocation made in the database, reach both within 1 s.
func TestTwoServeProcessesShareChangesWithinOneSecond(t *testing.T) {
	t.Parallel()
	_, appURL := pgtest.Migrated(t)

	// Seed an org and an API key through the store, as an operator would.
	ctx := context.Background()
	pool := pgtest.Pool(t, appURL)
	store := tenancy.NewPostgresStore(pool)
	defer store.Close()
	seed, err := tenancy.ParseSeed([]byte(`
orgs: [{ slug: legacy, name: Legacy }, { slug: acme, name: Acme }]
api_keys: [{ org: acme, name: ci, role: member, scopes: [read, agents.run] }]
`))
	require.NoError(t, err)
	res, err := tenancy.LoadSeed(ctx, store, seed)
	require.NoError(t, err)
	key := res.APIKeys[0].Key

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"org":%q}`, r.Header.Get("X-Tenant-Org-Slug"))
	}))
	defer upstream.Close()

	cfgPath := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_grace: 5s, debug_headers: true }
log: { level: info, format: json }
store: { driver: postgres, database_url: "${TEST_DATABASE_URL}" }
upstreams:
  legacy: { url: "${TEST_UPSTREAM}" }
  new: { url: "${TEST_UPSTREAM}" }
tenancy: { default_org: legacy }
routes:
  - { name: qa, paths: ["/api/qa"], auth: required, permission: agents.run }
  - { name: default, paths: ["/"], auth: optional }
admin: { bootstrap_token: "${TEST_ADMIN_TOKEN}" }
`), 0o600))
	env := []string{"TEST_DATABASE_URL=" + appURL, "TEST_UPSTREAM=" + upstream.URL, "TEST_ADMIN_TOKEN=" + replicaAdminToken}
	a := startReplica(t, cfgPath, env...)
	b := startReplica(t, cfgPath, env...)

	for _, r := range []*replica{a, b} {
		code, mode := r.get(t, "/api/qa", key)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "legacy", mode)
	}

	// Ops pin acme's qa to shadow through replica A's admin API.
	req, err := http.NewRequest("PUT", a.admin+"/admin/api/flags/route.qa/orgs/acme",
		strings.NewReader(`{"variant":"shadow","reason":"pilot"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+replicaAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	assert.Eventually(t, func() bool { _, m := b.get(t, "/api/qa", key); return m == "shadow" },
		time.Second, 10*time.Millisecond, "replica B did not apply the flag change within 1 s")
	assert.Eventually(t, func() bool { _, m := a.get(t, "/api/qa", key); return m == "shadow" },
		time.Second, 10*time.Millisecond, "replica A did not apply its own flag change within 1 s")

	// The key is revoked in the database: both replicas refuse it within 1 s.
	k, err := store.GetAPIKeyByPrefix(ctx, res.APIKeys[0].Prefix)
	require.NoError(t, err)
	_, err = store.RevokeAPIKey(ctx, k.OrgID, k.ID)
	require.NoError(t, err)
	for name, r := range map[string]*replica{"A": a, "B": b} {
		assert.Eventually(t, func() bool { c, _ := r.get(t, "/api/qa", key); return c == http.StatusUnauthorized },
			time.Second, 10*time.Millisecond, "replica %s still accepts a revoked key after 1 s", name)
	}
}
