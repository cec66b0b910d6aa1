package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The scenarios, in the order they are measured and reported.
const (
	// scenarioDirect: client → upstream, the baseline.
	scenarioDirect = "direct"
	// scenarioLegacy: through the proxy, route anon (auth none), legacy
	// mode: the plain passthrough.
	scenarioLegacy = "legacy"
	// scenarioAuth: route authd (auth required, permission read) with an
	// API key of org "bench" in X-API-Key; legacy mode. After the first
	// request the key is served from the proxy's cache.
	scenarioAuth = "auth"
	// scenarioJWT: like auth, with an access token of the built-in issuer
	// (Authorization: Bearer), cached after the first verification.
	scenarioJWT = "jwt"
	// scenarioShadow: like auth, with a key of org "shadowed", which the
	// seed pins to shadow on route authd: served by legacy, the body teed
	// and compared against the candidate after the client is served.
	scenarioShadow = "shadow"
)

var allScenarios = []string{scenarioDirect, scenarioLegacy, scenarioAuth, scenarioJWT, scenarioShadow}

// credentials are what the auth scenarios send.
type credentials struct {
	keyLegacy, keyShadowed, token string
}

// setupCredentials logs the seeded user in through the built-in issuer
// (the access token is the jwt scenario's credential) and creates an API
// key in each org through the tenant API. The seed file could create the
// keys too, but their plaintexts are generated at load and `strangler
// serve` does not print them; the tenant API returns them.
func setupCredentials(ctx context.Context, proxyURL string) (credentials, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := postJSON(ctx, c, proxyURL+"/auth/login", "", map[string]string{"email": benchEmail, "password": benchPassword}, &login); err != nil {
		return credentials{}, fmt.Errorf("login: %w", err)
	}
	creds := credentials{token: login.AccessToken}
	for _, k := range []struct {
		org string
		dst *string
	}{{orgLegacy, &creds.keyLegacy}, {orgShadowed, &creds.keyShadowed}} {
		var created struct {
			Secret string `json:"secret"`
		}
		body := map[string]any{"name": "bench", "role": "member", "scopes": []string{"read"}}
		if err := postJSON(ctx, c, proxyURL+"/orgs/"+k.org+"/api-keys", login.AccessToken, body, &created); err != nil {
			return credentials{}, fmt.Errorf("create api key in %s: %w", k.org, err)
		}
		*k.dst = created.Secret
	}
	return creds, nil
}

func postJSON(ctx context.Context, c *http.Client, url, bearer string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, out)
}

// newTargets builds the targets of the scenarios, in o.scenarios order.
func newTargets(o options, upstreamURL, proxyURL, adminURL string, creds credentials, concurrency int) []*target {
	var out []*target
	for _, s := range o.scenarios {
		var t *target
		switch s {
		case scenarioDirect:
			t = newTarget(s, upstreamURL, "", nil, concurrency)
		case scenarioLegacy:
			t = newTarget(s, proxyURL, prefixAnonymous, nil, concurrency)
		case scenarioAuth:
			t = newTarget(s, proxyURL, prefixAuthed, http.Header{"X-Api-Key": {creds.keyLegacy}}, concurrency)
		case scenarioJWT:
			t = newTarget(s, proxyURL, prefixAuthed, http.Header{"Authorization": {"Bearer " + creds.token}}, concurrency)
		case scenarioShadow:
			t = newTarget(s, proxyURL, prefixAuthed, http.Header{"X-Api-Key": {creds.keyShadowed}}, concurrency)
			t.settle = func(ctx context.Context) error { return waitShadowIdle(ctx, adminURL) }
			t.minWarmup = shadowWarmup
			t.leadIn = shadowLeadIn
		}
		t.lean = o.client == clientLean
		out = append(out, t)
	}
	return out
}

// shadowCounts are the shadow engine's comparison outcomes
// (strangler_shadow_comparisons_total on the admin /metrics), summed over
// routes: how many shadowed requests were compared, and how many dropped
// (queue full) — a full queue means the engine did less work than asked —
// plus "shed": sampled requests the CPU guard did not shadow
// (strangler_shadow_shed_total).
type shadowCounts map[string]float64

func (c shadowCounts) sub(o shadowCounts) shadowCounts {
	out := shadowCounts{}
	for k, v := range c {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (c shadowCounts) String() string {
	if len(c) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range []string{"match", "diff", "candidate_error", "dropped"} {
		if v, ok := c[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
		}
	}
	for k, v := range c {
		switch k {
		case "match", "diff", "candidate_error", "dropped":
		default:
			parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

// shadowIdleWait bounds the wait for the shadow queue to drain after a
// slice; shadowSettle is the pause after it, for the comparisons the
// workers hold and the recorder's last batch.
//
// shadowWarmup is the shadow scenario's least warm-up: the CPU guard steps
// every 250 ms and needs a few steps from its start at full admission to
// its steady state, which is what the slices measure.
//
// shadowLeadIn runs before each measured shadow slice: the other
// scenarios' slices and the queue drain in between give the guard idle
// CPU to recover on, and the slices measure continuous shadow traffic.
const (
	shadowWarmup   = 2 * time.Second
	shadowLeadIn   = time.Second
	shadowIdleWait = time.Minute
	shadowSettle   = 100 * time.Millisecond
)

// waitShadowIdle waits until the shadow engine's queue is empty
// (strangler_shadow_queue_depth on the admin /metrics), then shadowSettle.
func waitShadowIdle(ctx context.Context, adminURL string) error {
	if adminURL == "" {
		return nil
	}
	deadline := time.Now().Add(shadowIdleWait)
	for {
		depth, ok := readMetric(ctx, adminURL, "strangler_shadow_queue_depth")
		if !ok {
			return errors.New("shadow queue depth not found on the admin /metrics")
		}
		if depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("shadow queue still holds %.0f comparisons after %s", depth, shadowIdleWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(shadowSettle):
		return nil
	}
}

// readMetric sums the samples of one metric family on the admin /metrics.
func readMetric(ctx context.Context, adminURL, name string) (float64, bool) {
	var sum float64
	found := false
	scanMetrics(ctx, adminURL, func(line string) {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			i := strings.LastIndexByte(line, ' ')
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				sum += v
				found = true
			}
		}
	})
	return sum, found
}

// scanMetrics calls fn with every line of the admin /metrics; a failed
// scrape calls it with none.
func scanMetrics(ctx context.Context, adminURL string, fn func(string)) {
	if adminURL == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// readShadowCounts scrapes the admin /metrics. A failure is reported as
// no counts: the numbers are context, not the measurement.
func readShadowCounts(ctx context.Context, adminURL string) shadowCounts {
	out := shadowCounts{}
	scanMetrics(ctx, adminURL, func(line string) {
		if strings.HasPrefix(line, "strangler_shadow_shed_total{") {
			i := strings.LastIndexByte(line, ' ')
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out["shed"] += v
			}
			return
		}
		if !strings.HasPrefix(line, "strangler_shadow_comparisons_total{") {
			return
		}
		_, rest, _ := strings.Cut(line, `outcome="`)
		outcome, _, _ := strings.Cut(rest, `"`)
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && outcome != "" {
			out[outcome] += v
		}
	})
	return out
}
