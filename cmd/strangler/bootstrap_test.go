package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// runBootstrap runs `strangler bootstrap args...` and returns stdout and
// stderr separately (the token goes alone to stdout).
func runBootstrap(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"bootstrap"}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestBootstrapTwiceOnRealDatabase runs the command twice as the runtime
// role strangler_app: the first run prints a working token, the second
// creates nothing and prints none; --new-token replaces the token.
func TestBootstrapTwiceOnRealDatabase(t *testing.T) {
	_, appURL := pgtest.Migrated(t)
	args := []string{"--database-url", appURL, "--org-slug", "legacy", "--org-name", "Legacy customers", "--admin-email", "ops@example.test"}

	stdout, stderr, err := runBootstrap(t, args...)
	require.NoError(t, err, stderr)
	token := strings.TrimSpace(stdout)
	require.NoError(t, tenancy.ParseAdminToken(token), "stdout is the token alone: %q", stdout)
	assert.Contains(t, stderr, `org "legacy"`)
	assert.Contains(t, stderr, "created")

	store := tenancy.NewPostgresStore(pgtest.Pool(t, appURL))
	ctx := context.Background()
	tok, err := tenancy.VerifyAdminToken(ctx, store, token)
	require.NoError(t, err)
	admin, err := store.GetUserByEmail(ctx, "ops@example.test")
	require.NoError(t, err)
	assert.True(t, admin.PlatformAdmin)
	assert.Equal(t, admin.ID, tok.UserID)
	org, err := store.GetOrgBySlug(ctx, "legacy")
	require.NoError(t, err)
	assert.Equal(t, org.ID, admin.DefaultOrgID)

	stdout, stderr, err = runBootstrap(t, args...)
	require.NoError(t, err, stderr)
	assert.Empty(t, stdout, "the second run prints no token")
	assert.Contains(t, stderr, "already done")
	_, err = tenancy.VerifyAdminToken(ctx, store, token)
	require.NoError(t, err, "the first token keeps working")
	orgs, err := store.ListOrgs(ctx, tenancy.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, orgs, 1)

	stdout, stderr, err = runBootstrap(t, append(args, "--new-token")...)
	require.NoError(t, err, stderr)
	fresh := strings.TrimSpace(stdout)
	require.NoError(t, tenancy.ParseAdminToken(fresh))
	assert.NotEqual(t, token, fresh)
	assert.Contains(t, stderr, "revoked 1 earlier bootstrap token")
	_, err = tenancy.VerifyAdminToken(ctx, store, token)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = tenancy.VerifyAdminToken(ctx, store, fresh)
	require.NoError(t, err)
}

func TestBootstrapUsageErrorsExit2(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	ok := []string{"--org-slug", "legacy", "--org-name", "Legacy", "--admin-email", "ops@example.test"}
	for _, args := range [][]string{
		append([]string{"bootstrap"}, ok...), // no database URL
		{"bootstrap", "--database-url", "postgres://x@127.0.0.1:1/db"},
		{"bootstrap", "--database-url", "postgres://x@127.0.0.1:bad/db", "--org-slug", "legacy", "--org-name", "L", "--admin-email", "a@b.c"},
		{"bootstrap", "--database-url", "postgres://x@127.0.0.1:1/db", "--org-slug", "Bad Slug", "--org-name", "L", "--admin-email", "a@b.c"},
		{"bootstrap", "extra-arg"},
		{"bootstrap", "--bogus"},
	} {
		assert.Equal(t, 2, run(args), "%q", args)
	}
	assert.Equal(t, 1, run(append([]string{"bootstrap", "--database-url", "postgres://x@127.0.0.1:1/db?connect_timeout=2"}, ok...)),
		"an unreachable server is a failure, not a usage error")
}

func TestBootstrapOnUnmigratedDatabaseSaysSo(t *testing.T) {
	url := pgtest.NewDatabase(t)
	_, _, err := runBootstrap(t, "--database-url", url, "--org-slug", "legacy", "--org-name", "L", "--admin-email", "a@b.c")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "strangler migrate up")
}
