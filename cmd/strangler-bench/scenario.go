package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
func newTargets(o options, upstreamURL, proxyURL string, creds credentials, concurrency int) []*target {
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
		}
		out = append(out, t)
	}
	return out
}

// shadowCounts are the shadow engine's comparison outcomes
// (strangler_shadow_comparisons_total on the admin /metrics), summed over
// routes: how many shadowed requests were compared, and how many dropped
// (queue full) — a full queue means the engine did less work than asked.
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

// readShadowCounts scrapes the admin /metrics. A failure is reported as
// no counts: the numbers are context, not the measurement.
func readShadowCounts(ctx context.Context, adminURL string) shadowCounts {
	out := shadowCounts{}
	if adminURL == "" {
		return out
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "strangler_shadow_comparisons_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `outcome="`)
		outcome, _, _ := strings.Cut(rest, `"`)
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil && outcome != "" {
			out[outcome] += v
		}
	}
	return out
}
