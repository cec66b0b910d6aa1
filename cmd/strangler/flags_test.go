package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/flags"
)

const (
	cliAcmeID  = "0b7f3c1e-0000-4000-8000-0000000000a1"
	adminToken = "s3cret-admin-token"
)

type cliActorKey struct{}

// opsServer is the flag admin API on a real HTTP server, behind a stand-in
// for the admin listener's token check.
func opsServer(t *testing.T) (*httptest.Server, flags.Store) {
	t.Helper()
	store := flags.NewMemoryStore(nil)
	h, err := flags.NewAdminHandler(flags.AdminOptions{
		Store: store,
		Actor: func(ctx context.Context) string { s, _ := ctx.Value(cliActorKey{}).(string); return s },
		ResolveOrg: func(_ context.Context, s string) (string, string, error) {
			if s == "acme" || s == cliAcmeID {
				return cliAcmeID, "acme", nil
			}
			return "", "", fmt.Errorf("%q: %w", s, flags.ErrOrgNotFound)
		},
		Routes: []string{"qa"},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+adminToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"admin token required","request_id":"r1"}}`))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cliActorKey{}, "cli-test")))
	}))
	t.Cleanup(srv.Close)
	return srv, store
}

// runOps runs the ops commands in process under a root configured like
// newRootCmd, and maps the error to the exit status as run does.
func runOps(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := &cobra.Command{Use: "strangler", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitCode{code: 2, err: fmt.Errorf("%s: %w", cmdName(cmd), err)}
	})
	root.AddCommand(newFlagsCmd(), newKillSwitchCmd())
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0, stdout.String(), stderr.String()
	}
	var ec *exitCode
	switch {
	case errors.As(err, &ec):
		return ec.code, stdout.String(), err.Error()
	case isCobraUsageError(err):
		return 2, stdout.String(), err.Error()
	}
	return 1, stdout.String(), err.Error()
}

func TestFlagsCLI(t *testing.T) {
	srv, store := opsServer(t)
	t.Setenv(envAdminURL, srv.URL)
	t.Setenv(envAdminToken, adminToken)

	code, out, errOut := runOps(t, "flags", "set", "--org", "acme", "--route", "qa", "--mode", "shadow", "--reason", "pilot")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "route.qa for acme ("+cliAcmeID+"): rule -> shadow (reason: pilot)\n", out)

	code, out, errOut = runOps(t, "flags", "set", "--org", cliAcmeID, "--route", "route.qa", "--mode", "canary", "--reason", "looks good")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "shadow -> canary")

	code, out, errOut = runOps(t, "flags", "set", "--route", "qa", "--mode", "shadow", "--percent", "25", "--reason", "widen")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "route.qa: default legacy, rollout 25% shadow (reason: widen)\n", out)
	rule, err := store.Rule(context.Background(), "route.qa")
	require.NoError(t, err)
	require.NotNil(t, rule.Rollout)
	assert.Equal(t, 25.0, rule.Rollout.Percent)

	code, out, errOut = runOps(t, "flags", "list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kill switch on")
	assert.Regexp(t, `route\.qa\s+legacy\s+25% shadow\s+-\s+1`, out)

	code, out, errOut = runOps(t, "flags", "get", "qa")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "flag route.qa")
	assert.Regexp(t, cliAcmeID+`\s+acme\s+canary\s+cli-test`, out)

	code, out, errOut = runOps(t, "flags", "get", "qa", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var view flags.FlagView
	require.NoError(t, json.Unmarshal([]byte(out), &view))
	assert.Equal(t, 1, view.OverrideCount)

	code, out, errOut = runOps(t, "flags", "unset", "--org", "acme", "--route", "qa", "--reason", "back to the rule")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "route.qa for acme ("+cliAcmeID+"): canary -> rule (reason: back to the rule)\n", out)

	code, out, errOut = runOps(t, "flags", "history", "qa")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `cli-test\s+override.unset\s+acme\s+canary\s+-\s+back to the rule`, out)
	assert.Regexp(t, `cli-test\s+override.set\s+acme\s+shadow\s+canary\s+looks good`, out)
	assert.Regexp(t, `cli-test\s+override.set\s+acme\s+-\s+shadow\s+pilot`, out)
	assert.Regexp(t, `cli-test\s+rule.set\s+-\s+-\s+default legacy, rollout 25% shadow\s+widen`, out)

	code, out, errOut = runOps(t, "flags", "history", "route.qa", "--org", "acme", "--format", "json", "--limit", "2")
	require.Equal(t, 0, code, errOut)
	var page flags.HistoryPage
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Entries, 2)
	assert.NotZero(t, page.NextBefore)

	code, out, errOut = runOps(t, "kill-switch", "off", "--reason", "incident 12")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "kill switch OFF: every request goes to legacy, shadowing stopped (set by cli-test at "+
		timeText(mustKill(t, store).UpdatedAt)+": incident 12) (was on)\n", out)
	code, out, _ = runOps(t, "kill-switch", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "kill switch OFF")
	code, _, errOut = runOps(t, "kill-switch", "on", "--reason", "resolved")
	require.Equal(t, 0, code, errOut)
	assert.True(t, mustKill(t, store).Enabled)
	code, out, _ = runOps(t, "flags", "history", "strangler-enabled")
	require.Equal(t, 0, code)
	assert.Regexp(t, `kill_switch.set\s+-\s+off\s+on\s+resolved`, out)
}

func mustKill(t *testing.T, s flags.Store) flags.KillSwitch {
	t.Helper()
	k, err := s.KillSwitch(context.Background())
	require.NoError(t, err)
	return k
}

func TestFlagsCLIErrors(t *testing.T) {
	srv, store := opsServer(t)
	t.Setenv(envAdminURL, "")
	t.Setenv(envAdminToken, "")
	base := []string{"--admin-url", srv.URL, "--token", adminToken}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no subcommand", []string{"flags"}, 2, "missing subcommand"},
		{"unknown subcommand", []string{"flags", "frobnicate"}, 2, "unknown command"},
		{"missing reason", append([]string{"flags", "set", "--org", "acme", "--route", "qa", "--mode", "shadow"}, base...), 2, "--reason is required"},
		{"missing mode", append([]string{"flags", "set", "--org", "acme", "--route", "qa", "--reason", "x"}, base...), 2, "--mode is required"},
		{"bad mode", append([]string{"flags", "set", "--org", "acme", "--route", "qa", "--mode", "blue", "--reason", "x"}, base...), 2, `invalid mode "blue"`},
		{"missing route", append([]string{"flags", "set", "--org", "acme", "--mode", "new", "--reason", "x"}, base...), 2, "--route is required"},
		{"bad route", append([]string{"flags", "set", "--route", "q a", "--mode", "new", "--reason", "x"}, base...), 2, "not a route group"},
		{"org and percent", append([]string{"flags", "set", "--org", "acme", "--route", "qa", "--mode", "new", "--percent", "5", "--reason", "x"}, base...), 2, "drop --org or --percent"},
		{"percent out of range", append([]string{"flags", "set", "--route", "qa", "--mode", "new", "--percent", "150", "--reason", "x"}, base...), 2, "within 0 and 100"},
		{"percent not a number", append([]string{"flags", "set", "--route", "qa", "--mode", "new", "--percent", "lots", "--reason", "x"}, base...), 2, "invalid argument"},
		{"server rejects three decimals", append([]string{"flags", "set", "--route", "qa", "--mode", "new", "--percent", "1.234", "--reason", "x"}, base...), 2, "more than two decimals"},
		{"unset without org", append([]string{"flags", "unset", "--route", "qa", "--reason", "x"}, base...), 2, "--org is required"},
		{"get without key", append([]string{"flags", "get"}, base...), 2, "missing KEY"},
		{"get with two keys", append([]string{"flags", "get", "qa", "billing"}, base...), 2, "unexpected argument"},
		{"bad format", append([]string{"flags", "list", "--format", "yaml"}, base...), 2, "--format must be table or json"},
		{"bad limit", append([]string{"flags", "history", "qa", "--limit", "0"}, base...), 2, "--limit"},
		{"unknown flag", append([]string{"flags", "list", "--colour"}, base...), 2, "unknown flag"},
		{"kill switch without state", append([]string{"kill-switch"}, base...), 2, "want on, off or status"},
		{"kill switch bad state", append([]string{"kill-switch", "maybe", "--reason", "x"}, base...), 2, "want on, off or status"},
		{"kill switch without reason", append([]string{"kill-switch", "off"}, base...), 2, "--reason is required"},
		{"unknown org", append([]string{"flags", "set", "--org", "initech", "--route", "qa", "--mode", "new", "--reason", "x"}, base...), 1, `organization "initech" not found`},
		{"unset of nothing", append([]string{"flags", "unset", "--org", "acme", "--route", "qa", "--reason", "x"}, base...), 1, "not found"},
		{"no token", []string{"flags", "list", "--admin-url", srv.URL}, 1, "set --token or STRANGLER_ADMIN_TOKEN"},
		{"wrong token", []string{"kill-switch", "off", "--reason", "x", "--admin-url", srv.URL, "--token", "nope"}, 1, "refused the credentials"},
		{"unreachable", []string{"flags", "list", "--admin-url", "http://127.0.0.1:1", "--token", "x"}, 1, "cannot reach the admin API at http://127.0.0.1:1"},
		{"bad admin url", []string{"flags", "list", "--admin-url", "127.0.0.1:9090"}, 1, "want http(s)://host:port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runOps(t, c.args...)
			assert.Equal(t, c.code, code, errOut)
			assert.Contains(t, errOut, c.msg)
		})
	}
	assert.True(t, mustKill(t, store).Enabled, "no failed command changed anything")
	h, err := store.History(context.Background(), flags.HistoryFilter{})
	require.NoError(t, err)
	assert.Empty(t, h)
}

// TestFlagsBinary runs the built binary: the environment supplies the admin
// URL and token, and run maps usage errors to exit 2 and failures to 1.
func TestFlagsBinary(t *testing.T) {
	srv, _ := opsServer(t)
	env := []string{envAdminURL + "=" + srv.URL, envAdminToken + "=" + adminToken}

	r := runBinary(t, env, "flags", "set", "--org", "acme", "--route", "qa", "--mode", "canary", "--reason", "pilot")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rule -> canary")

	r = runBinary(t, env, "kill-switch", "status")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "kill switch on")

	r = runBinary(t, env, "flags", "set", "--route", "qa", "--mode", "canary")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "strangler: flags set: --reason is required: say why, it goes into the audit history\n", r.stderr)

	r = runBinary(t, env, "flags", "list", "--no-such-flag")
	assert.Equal(t, 2, r.code)

	r = runBinary(t, []string{envAdminURL + "=" + srv.URL, envAdminToken + "="}, "flags", "list")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "set --token or STRANGLER_ADMIN_TOKEN")
}
