package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CLI is tested as users run it: the real binary, built once per test
// process with link-time version values.
const (
	testVersion = "v9.9.9-test"
	testCommit  = "0123abcd"
)

var builtBinary struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// binary builds cmd/strangler into a temporary directory (once).
func binary(t *testing.T) string {
	t.Helper()
	builtBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "strangler-cli-test-")
		if err != nil {
			builtBinary.err = err
			return
		}
		builtBinary.dir = dir
		builtBinary.path = filepath.Join(dir, "strangler")
		args := []string{"build", "-ldflags", "-X main.version=" + testVersion + " -X main.commit=" + testCommit, "-o", builtBinary.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			builtBinary.err = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	require.NoError(t, builtBinary.err)
	return builtBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary.dir != "" {
		_ = os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}

// result is one finished run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs the binary to completion (bounded by a minute).
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestHelpOfEveryCommand(t *testing.T) {
	// Every command of the tree, present and future.
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	require.Greater(t, len(paths), 8)
	t.Run("each", func(t *testing.T) {
		for _, path := range paths {
			args := append(append([]string(nil), path...), "--help")
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				r := runBinary(t, nil, args...)
				assert.Equal(t, 0, r.code, "%q: %s", args, r.stderr)
				assert.Contains(t, r.stdout, "Usage:", "%q", args)
				assert.Empty(t, r.stderr, "%q", args)
			})
		}
	})
	r := runBinary(t, nil, "help", "demo")
	assert.Equal(t, 0, r.code)
	r = runBinary(t, nil, "demo", "--help")
	for _, flag := range []string{"--listen", "--admin-listen", "--traffic", "--traffic-rate"} {
		assert.Contains(t, r.stdout, flag)
	}
	r = runBinary(t, nil, "serve", "--help")
	assert.Contains(t, r.stdout, "--config")
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `strangler: unknown command "serv" for "strangler"; did you mean "serve"?`},
		{[]string{"--bogus"}, `strangler: unknown flag: --bogus (see strangler --help)`},
		{[]string{"serve", "--bogus"}, `strangler: serve: unknown flag: --bogus (see strangler serve --help)`},
		{[]string{"serve"}, `strangler: serve: --config FILE is required (or STRANGLER_CONFIG)`},
		{[]string{"serve", "--config"}, `strangler: serve: flag needs an argument: --config (see strangler serve --help)`},
		{[]string{"serve", "extra"}, `strangler: serve: unexpected argument "extra" (see strangler serve --help)`},
		{[]string{"config"}, `strangler: config: missing subcommand: validate (see strangler config --help)`},
		{[]string{"config", "validate"}, `strangler: config validate: missing FILE (usage: strangler config validate FILE)`},
		{[]string{"config", "validate", "a", "b"}, `strangler: config validate: unexpected argument "b" (usage: strangler config validate FILE)`},
		{[]string{"config", "check"}, `strangler: config: unknown command "check" (see strangler config --help)`},
		{[]string{"version", "now"}, `strangler: version: unexpected argument "now" (see strangler version --help)`},
		{[]string{"demo", "--traffic-rate", "fast"}, `strangler: demo: invalid argument "fast" for "--traffic-rate" flag: strconv.ParseFloat: parsing "fast": invalid syntax (see strangler demo --help)`},
		{[]string{"demo", "--traffic-rate", "500"}, `strangler: demo: --traffic-rate must be above 0 and at most 50, got 500`},
		{[]string{"demo", "--traffic-rate", "0"}, `strangler: demo: --traffic-rate must be above 0 and at most 50, got 0`},
		{[]string{"demo", "--listen", "8080"}, `strangler: demo: --listen: "8080" is not host:port, e.g. :8080 or 127.0.0.1:9090`},
		{[]string{"demo", "--listen", ":9999", "--admin-listen", ":9999"}, `strangler: demo: --listen and --admin-listen must differ (both ":9999")`},
		{[]string{"demo", "--log-level", "loud"}, `strangler: demo: --log-level must be one of debug, info, warn, error, got "loud"`},
		{[]string{"demo", "--traffic=maybe"}, `strangler: demo: invalid argument "maybe" for "--traffic" flag: strconv.ParseBool: parsing "maybe": invalid syntax (see strangler demo --help)`},
	}
	for _, tc := range tests {
		r := runBinary(t, []string{"STRANGLER_CONFIG="}, tc.args...)
		assert.Equal(t, 2, r.code, "%q", tc.args)
		assert.Equal(t, tc.want+"\n", r.stderr, "%q", tc.args)
		assert.Empty(t, r.stdout, "%q", tc.args)
	}
}

func TestVersion(t *testing.T) {
	r := runBinary(t, nil, "version")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^version: `+testVersion+`\ncommit:  `+testCommit+`\ngo:      go1\.\d+(\.\d+)?\S* \w+/\w+\n$`, r.stdout)

	r = runBinary(t, nil, "--version")
	require.Equal(t, 0, r.code)
	assert.Regexp(t, `^strangler `+testVersion+` \(commit `+testCommit+`, go1\.\S+ \w+/\w+\)\n$`, r.stdout)
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	good := write("good.yaml", `
upstreams:
  legacy: { url: "http://127.0.0.1:8000" }
  new:    { url: "http://127.0.0.1:8001" }
admin: { bootstrap_token: "0123456789abcdef0123456789abcdef" }
`)
	r := runBinary(t, nil, "config", "validate", good)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "ok\n", r.stdout)
	assert.Equal(t, "warning: store.driver: memory: data lives in this process only; use postgres to run several replicas or keep data across restarts\n", r.stderr)

	bad := write("bad.yaml", `
server:
  listn: ":8080"
upstreams:
  legacy: { url: "ftp://legacy" }
routes:
  - name: qa
    paths: [/api/qa]
    auth: maybe
  - name: default
    paths: ["/"]
    auth: optional
`)
	r = runBinary(t, nil, "config", "validate", bad)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, bad+`: server.listn: unknown key (did you mean "listen"?) (line 3)
`+bad+`: upstreams.legacy.url: must be an http:// or https:// URL, got "ftp://legacy" (line 5)
`+bad+`: routes[0].auth: must be one of required, optional, none, got "maybe" (line 9)
strangler: `+bad+`: invalid configuration: 3 problems
`, r.stderr)

	r = runBinary(t, nil, "config", "validate", filepath.Join(dir, "absent.yaml"))
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "strangler: read config: open "+filepath.Join(dir, "absent.yaml")+": no such file or directory\n", r.stderr)

	env := []string{
		"SUPABASE_PROJECT_REF=abcdefghijklmnop",
		"SUPABASE_JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long",
		"STRANGLER_DATABASE_URL=postgres://strangler_app@127.0.0.1:5432/strangler",
		"STRANGLER_ADMIN_TOKEN=0123456789abcdef0123456789abcdef",
	}
	for _, shipped := range []string{"../../configs/strangler.example.yaml", "../../configs/7cycles.yaml"} {
		r = runBinary(t, env, "config", "validate", shipped)
		assert.Equal(t, 0, r.code, "%s: %s", shipped, r.stderr)
		assert.Equal(t, "ok\n", r.stdout)
	}
	// Without the environment the real route map names what is missing.
	r = runBinary(t, []string{"SUPABASE_PROJECT_REF=", "SUPABASE_JWT_SECRET=", "STRANGLER_DATABASE_URL="}, "config", "validate", "../../configs/7cycles.yaml")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "auth.jwt[0].secret: environment variable SUPABASE_JWT_SECRET is not set")
}

// lines delivers the lines a process writes to a pipe.
func lines(t *testing.T, r io.Reader) <-chan string {
	t.Helper()
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// waitLine returns the first line containing substr, failing after a
// minute (a hung process, not a slow one).
func waitLine(t *testing.T, ch <-chan string, substr string, seen *[]string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("output ended before a line with %q; got:\n%s", substr, strings.Join(*seen, "\n"))
			}
			*seen = append(*seen, l)
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q within a minute; got:\n%s", substr, strings.Join(*seen, "\n"))
		}
	}
}
