package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

// execCmd runs the root command with args and returns stdout and the error.
func execCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestMigrateUsageErrorsExit2(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "sideways"},
		{"migrate", "up", "extra"},
		{"migrate", "up"}, // no URL
		{"migrate", "status", "--database-url"},
		{"migrate", "down", "--steps", "0", "--database-url", "postgres://x@127.0.0.1:1/db"},
		{"migrate", "down", "--steps", "two", "--database-url", "postgres://x@127.0.0.1:1/db"},
		{"migrate", "up", "--to", "0", "--database-url", "postgres://x@127.0.0.1:1/db"},
		{"migrate", "up", "--database-url", "postgres://x@127.0.0.1:bad/db"},
		{"migrate", "up", "--bogus"},
	} {
		assert.Equal(t, 2, run(args), "%q", args)
	}
	// A server that is not there is a failure, not a usage error.
	assert.Equal(t, 1, run([]string{"migrate", "status", "--database-url", "postgres://x@127.0.0.1:1/db?connect_timeout=2"}))
}

func TestMigrateUpStatusDown(t *testing.T) {
	url := pgtest.NewDatabase(t)
	latest := migrations.Latest()

	out, err := execCmd(t, "migrate", "status", "--database-url", url)
	require.NoError(t, err)
	assert.Regexp(t, `001\s+001_create_organizations_table.sql\s+pending`, out)
	assert.Contains(t, out, "current version 0 of")

	out, err = execCmd(t, "migrate", "up", "--to", "3", "--database-url", url)
	require.NoError(t, err)
	assert.Contains(t, out, "up 003 003_create_users_table.sql")
	assert.Contains(t, out, "from version 0 to 3")

	// The environment variable is the fallback for --database-url.
	t.Setenv(envDatabaseURL, url)
	out, err = execCmd(t, "migrate", "up")
	require.NoError(t, err)
	assert.Contains(t, out, "to "+itoa(latest))
	out, err = execCmd(t, "migrate", "up")
	require.NoError(t, err)
	assert.Contains(t, out, "nothing to do")

	out, err = execCmd(t, "migrate", "down", "--steps", "2")
	require.NoError(t, err)
	assert.Contains(t, out, "down "+pad3(latest))
	out, err = execCmd(t, "migrate", "status")
	require.NoError(t, err)
	assert.Contains(t, out, "current version "+itoa(latest-2)+" of "+itoa(latest)+", 2 pending")
	assert.Equal(t, 0, run([]string{"migrate", "down", "--steps", "100"}))
	out, err = execCmd(t, "migrate", "status")
	require.NoError(t, err)
	assert.Contains(t, out, "current version 0 of")
}

func itoa(v int32) string { return fmt.Sprintf("%d", v) }
func pad3(v int32) string { return fmt.Sprintf("%03d", v) }
