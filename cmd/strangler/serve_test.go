package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeProxiesAndDrainsOnSIGTERM runs `strangler serve` against a real
// upstream: a request goes through, then SIGTERM arrives while a request is
// in flight; /readyz turns 503, the request still completes, and the
// process exits 0.
func TestServeProxiesAndDrainsOnSIGTERM(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			entered <- struct{}{}
			<-release
			_, _ = io.WriteString(w, "slow done")
		default:
			w.Header().Set("X-Upstream", "legacy")
			_, _ = fmt.Fprintf(w, "legacy saw %s %s", r.Method, r.URL.RequestURI())
		}
	}))
	defer upstream.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	cfgPath := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_grace: 30s }
log: { level: info, format: json }
upstreams:
  legacy: { url: "${TEST_LEGACY_URL}" }
routes:
  - { name: default, paths: ["/"], auth: optional }
`), 0o600))

	cmd := exec.Command(binary(t), "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "TEST_LEGACY_URL="+upstream.URL)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	out := lines(t, stderr)
	var seen []string

	var listening struct{ Public, Admin string }
	require.NoError(t, json.Unmarshal([]byte(waitLine(t, out, `"msg":"listening"`, &seen)), &listening))
	pub, adm := "http://"+listening.Public, "http://"+listening.Admin

	resp, err := http.Get(pub + "/api/affirmations?x=1&x=2")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "legacy saw GET /api/affirmations?x=1&x=2", string(body))
	assert.Equal(t, "legacy", resp.Header.Get("X-Upstream"))

	resp, err = http.Get(adm + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	// A request in flight when SIGTERM arrives.
	type answer struct {
		status int
		body   string
		err    error
	}
	slow := make(chan answer, 1)
	go func() {
		resp, err := http.Get(pub + "/slow")
		if err != nil {
			slow <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- answer{status: resp.StatusCode, body: string(b), err: err}
	}()
	<-entered
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	// Draining: /readyz turns 503 while the request is still held upstream.
	require.Eventually(t, func() bool {
		resp, err := http.Get(adm + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, time.Minute, 10*time.Millisecond, "/readyz never reported draining")

	close(release)
	a := <-slow
	require.NoError(t, a.err)
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "slow done", a.body)

	for l := range out { // read to the end so Wait can return
		seen = append(seen, l)
	}
	require.NoError(t, cmd.Wait(), "exit status after a complete drain; stderr:\n%s", strings.Join(seen, "\n"))
	// The access log is written in batches and flushed when serve stops:
	// every request has its line, the drained one included.
	joined := strings.Join(seen, "\n")
	assert.Contains(t, joined, `"path":"/api/affirmations"`)
	assert.Contains(t, joined, `"path":"/slow"`)
}

func TestServeRefusesAnInvalidConfigNamingEveryProblem(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "nope", shutdown_grace: -1s }
upstreams:
  legacy: { url: "" }
routes:
  - { name: qa, paths: [api/qa], auth: required, permission: fly }
`), 0o600))
	r := runBinary(t, nil, "serve", "--config", cfgPath)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, []string{
		cfgPath + `: server.listen: invalid listen address "nope": expected host:port such as ":8080" (line 2)`,
		cfgPath + `: server.shutdown_grace: invalid duration "-1s": must not be negative (line 2)`,
		cfgPath + `: upstreams.legacy.url: is required: an http:// or https:// URL (line 4)`,
		cfgPath + `: routes[0].paths[0]: must start with "/", got "api/qa" (line 6)`,
		cfgPath + `: routes[0].permission: "fly" is granted by no role in tenancy.roles: no caller could use this route (line 6)`,
		"strangler: " + cfgPath + ": invalid configuration: 5 problems",
	}, strings.Split(strings.TrimSpace(r.stderr), "\n"))
	assert.Empty(t, r.stdout)

	r = runBinary(t, nil, "serve", "--config", filepath.Join(t.TempDir(), "absent.yaml"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such file or directory")
}

func TestServeFailsWhenTheListenerIsTaken(t *testing.T) {
	taken := httptest.NewServer(http.NotFoundHandler())
	defer taken.Close()
	addr := strings.TrimPrefix(taken.URL, "http://")
	cfgPath := filepath.Join(t.TempDir(), "taken.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "`+addr+`", admin_listen: "127.0.0.1:0" }
upstreams: { legacy: { url: "http://127.0.0.1:1" } }
`), 0o600))
	r := runBinary(t, nil, "serve", "--config", cfgPath)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "strangler: serve: public listener: listen tcp "+addr+": bind: address already in use")
}

// TestServeSecondSignalExitsAtOnce: while a drain waits on a request, a
// second SIGTERM ends the process without waiting for the grace period.
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer upstream.Close()

	cfgPath := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_grace: 10m }
upstreams: { legacy: { url: "`+upstream.URL+`" } }
`), 0o600))
	cmd := exec.Command(binary(t), "serve", "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	out := lines(t, stderr)
	var seen []string
	var listening struct{ Public, Admin string }
	require.NoError(t, json.Unmarshal([]byte(waitLine(t, out, `"msg":"listening"`, &seen)), &listening))

	go func() {
		resp, err := http.Get("http://" + listening.Public + "/held")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + listening.Admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, time.Minute, 10*time.Millisecond, "/readyz never reported draining")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	for range out {
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the second signal ends the process before the 10m grace")
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	assert.True(t, ws.Signaled(), "killed by the signal's default action")
	assert.Equal(t, syscall.SIGTERM, ws.Signal())
}

// TestServePrintsSeededAPIKeysOnce: the memory store's seed file generates
// API keys at start; serve prints each once on stdout, and it works.
func TestServePrintsSeededAPIKeysOnce(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Tenant-Org-Slug"))
	}))
	defer upstream.Close()
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	require.NoError(t, os.WriteFile(seed, []byte(`
orgs: [{ slug: legacy, name: Legacy }, { slug: acme, name: Acme }]
api_keys: [{ org: acme, name: ci, role: member, scopes: [read] }]
`), 0o600))
	cfgPath := filepath.Join(dir, "serve.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
log: { level: info, format: json }
store: { driver: memory, seed_file: "${TEST_SEED}" }
upstreams: { legacy: { url: "${TEST_LEGACY_URL}" } }
tenancy: { default_org: legacy }
routes: [{ name: default, paths: ["/"], auth: optional }]
`), 0o600))
	cmd := exec.Command(binary(t), "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "TEST_LEGACY_URL="+upstream.URL, "TEST_SEED="+seed)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var seen []string
	line := waitLine(t, lines(t, stdout), "seeded API key:", &seen)
	key := line[strings.Index(line, "key=")+len("key="):]
	require.True(t, strings.HasPrefix(key, "sk_live_"), line)
	errs := lines(t, stderr)
	var logLines []string
	var listening struct{ Public string }
	require.NoError(t, json.Unmarshal([]byte(waitLine(t, errs, `"msg":"listening"`, &logLines)), &listening))
	go func() {
		for range errs {
		}
	}()
	for _, l := range logLines {
		assert.NotContains(t, l, key[len(key)-20:], "the secret is never in the log")
	}
	req, err := http.NewRequest("GET", "http://"+listening.Public+"/x", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "acme", string(body))
}
