package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// curlCall is a curl line of the banner, parsed.
type curlCall struct {
	method, url, body string
	headers           [][2]string
	grep              string // "| grep 'PATTERN'" applied to the output
}

// shellWords splits a command line the way sh does for the subset the
// banner uses: spaces, single quotes, and a pipe.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\'':
			inQuote = false
		case inQuote:
			cur.WriteByte(c)
		case c == '\'':
			inQuote, inWord = true, true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			require.NotContains(t, `"\$`+"`", string(c), "banner line uses shell syntax the test does not model: %s", line)
			cur.WriteByte(c)
			inWord = true
		}
	}
	require.False(t, inQuote, "unterminated quote: %s", line)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func parseCurl(t *testing.T, line string) curlCall {
	t.Helper()
	words := shellWords(t, line)
	require.Equal(t, "curl", words[0])
	c := curlCall{method: "GET"}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-s", "-sN", "-N":
		case "-X":
			i++
			c.method = words[i]
		case "-H":
			i++
			k, v, ok := strings.Cut(words[i], ": ")
			require.True(t, ok, "header %q", words[i])
			c.headers = append(c.headers, [2]string{k, v})
		case "-d":
			i++
			c.body = words[i]
		case "|":
			require.Equal(t, "grep", words[i+1], line)
			c.grep = words[i+2]
			i = len(words)
		default:
			require.True(t, strings.HasPrefix(w, "http://"), "unexpected curl argument %q in %s", w, line)
			c.url = w
		}
	}
	require.NotEmpty(t, c.url, line)
	return c
}

// TestDemo starts `strangler demo` on free ports, reads its banner and runs
// every curl line it prints, while --traffic runs; then stops it with SIGINT.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binary(t), "demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--traffic", "--traffic-rate", "50")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderrPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	var stderr strings.Builder
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		_, _ = io.Copy(&stderr, stderrPipe)
	}()

	out := lines(t, stdout)
	var seen []string
	waitLine(t, out, "Ctrl-C stops", &seen)
	banner := strings.Join(seen, "\n")
	assert.Contains(t, banner, "Sending sample traffic to the proxy: 50 requests/s.")

	var curls []curlCall
	var proxyURL, adminURL string
	for _, l := range seen {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "curl "):
			curls = append(curls, parseCurl(t, trimmed))
		case strings.HasPrefix(trimmed, "proxy "):
			proxyURL = strings.Fields(trimmed)[1]
		case strings.HasPrefix(trimmed, "admin ") && strings.HasPrefix(strings.Fields(trimmed)[1], "http"):
			adminURL = strings.Fields(trimmed)[1]
		}
	}
	require.NotEmpty(t, proxyURL)
	require.NotEmpty(t, adminURL)
	require.GreaterOrEqual(t, len(curls), 8, banner)

	for _, c := range curls {
		req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		require.NoError(t, err)
		for _, h := range c.headers {
			req.Header.Set(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, "%s %s", c.method, c.url)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Less(t, resp.StatusCode, 300, "%s %s: %s", c.method, c.url, body)

		switch {
		case c.grep != "":
			pattern := strings.TrimPrefix(c.grep, "^")
			var matched int
			sc := bufio.NewScanner(strings.NewReader(string(body)))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), pattern) {
					matched++
				}
			}
			assert.Positive(t, matched, "%s | grep %s matched nothing", c.url, c.grep)
		case strings.HasSuffix(c.url, "/api/context"):
			// globex's default route is on the new service, which sees
			// the tenant context the proxy forwards.
			assert.Contains(t, string(body), `"org_slug":"globex"`)
			assert.Contains(t, string(body), `"assertion_found":true`)
		case strings.Contains(c.url, "/stream"):
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			assert.Contains(t, string(body), "event: token")
			assert.Contains(t, string(body), "event: done")
		default:
			var v map[string]any
			assert.NoError(t, json.Unmarshal(body, &v), "%s %s: %s", c.method, c.url, body)
		}
	}

	// The banner's POST went through the proxy to the legacy service (acme's
	// affirmations are in shadow mode: legacy serves): the legacy service,
	// asked directly, lists it.
	var legacyList string
	for _, c := range curls {
		if !strings.HasPrefix(c.url, proxyURL) && !strings.HasPrefix(c.url, adminURL) {
			legacyList = c.url
		}
	}
	require.NotEmpty(t, legacyList, "the banner shows the legacy service asked directly")
	resp, err := http.Get(legacyList)
	require.NoError(t, err)
	var list struct {
		Items []struct{ Text string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	var texts []string
	for _, it := range list.Items {
		texts = append(texts, it.Text)
	}
	assert.Contains(t, texts, "I ship in small steps.")

	// The sample traffic reaches the proxy: its request counter grows.
	require.Eventually(t, func() bool { return proxyRequests(t, adminURL) >= 20 }, time.Minute, 50*time.Millisecond,
		"sample traffic did not reach the proxy")

	// The traffic of acme, in shadow mode, fills the shadow report.
	var token string
	for _, l := range seen {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "admin" && f[1] == "token" {
			token = f[2]
		}
	}
	require.NotEmpty(t, token, "the banner prints the admin token")
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest("GET", adminURL+"/admin/api/shadow/report?org=acme", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var rep struct {
			Entries []struct {
				Route       string `json:"route"`
				Comparisons int    `json:"comparisons"`
			} `json:"entries"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rep) != nil {
			return false
		}
		for _, e := range rep.Entries {
			if e.Route == "affirmations" && e.Comparisons > 0 {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "acme's shadow traffic did not reach the report")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	waitLine(t, out, "strangler demo stopped", &seen)
	for range out {
	}
	<-stderrDone
	require.NoError(t, cmd.Wait(), "stderr:\n%s", stderr.String())
	assert.NotContains(t, stderr.String(), "sample traffic request failed")
}

// proxyRequests sums strangler_proxy_requests_total from /metrics.
func proxyRequests(t *testing.T, admin string) int {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "strangler_proxy_requests_total{") {
			continue
		}
		f := strings.Fields(l)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			total += int(n)
		}
	}
	return total
}

func TestDemoConfigIsValidAndMirrorsTheFirstUsersRouteGroups(t *testing.T) {
	cfg, err := demoConfig(demoOptions{listen: ":8080", adminListen: "127.0.0.1:9090", rate: 5, logLevel: "warn"}, "http://127.0.0.1:1", "http://127.0.0.1:2", demoAdminToken())
	require.NoError(t, err)
	var names []string
	for _, r := range cfg.Routes {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"qa", "affirmations", "content-strategy", "instagram", "visual-posts", "video", "default"}, names)
	assert.Equal(t, "memory", cfg.Store.Driver)
}

func TestLoopbackAddr(t *testing.T) {
	for in, want := range map[string]string{
		"[::]:8080":       "127.0.0.1:8080",
		"0.0.0.0:8080":    "127.0.0.1:8080",
		"127.0.0.1:9090":  "127.0.0.1:9090",
		"192.0.2.10:8080": "192.0.2.10:8080",
	} {
		assert.Equal(t, want, loopbackAddr(fakeAddr(in)), in)
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }
