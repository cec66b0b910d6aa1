package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// trafficRequest is one request of the demo's sample traffic.
type trafficRequest struct {
	method, path, body string
	key                string // API key; "" is anonymous
}

// trafficMix is what a user of the first user's app does, mostly reads.
func trafficMix() []trafficRequest {
	return []trafficRequest{
		{method: "GET", path: "/api/affirmations"},
		{method: "POST", path: "/api/qa", body: `{"question":"How do I build a morning ritual?"}`},
		{method: "GET", path: "/api/content-strategy"},
		{method: "GET", path: "/api/instagram/posts"},
		{method: "GET", path: "/api/affirmations"},
		{method: "GET", path: "/api/qa/stream?question=What%20is%20a%20cycle"},
		{method: "GET", path: "/api/visual-posts"},
		{method: "POST", path: "/api/affirmations", body: `{"text":"I finish what I start.","theme":"focus"}`},
		{method: "GET", path: "/api/knowledge/"},
		{method: "GET", path: "/api/video"},
		{method: "POST", path: "/api/visual-posts", body: `{"prompt":"sunrise over the sea"}`},
		{method: "GET", path: "/health"},
	}
}

// maxTrafficInFlight bounds concurrent sample requests: a slow proxy gets
// fewer requests, never a pile-up.
const maxTrafficInFlight = 4

// sendTraffic sends the traffic mix to base (the proxy's own listener) at
// rate requests per second until ctx is done, then logs a summary. Requests
// rotate through keys ("" is anonymous) so every org's reports fill.
func sendTraffic(ctx context.Context, base string, rate float64, keys []string, log *zap.Logger) {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: maxTrafficInFlight, IdleConnTimeout: 30 * time.Second},
	}
	defer client.CloseIdleConnections()
	mix := trafficMix()
	results := make(chan error, maxTrafficInFlight)
	ticker := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer ticker.Stop()

	var sent, failed, skipped, inFlight int
	collect := func(err error) {
		inFlight--
		if err != nil {
			failed++
			log.Warn("sample traffic request failed", zap.Error(err))
		}
	}
	for {
		select {
		case <-ctx.Done():
			for inFlight > 0 {
				collect(<-results)
			}
			log.Info("sample traffic stopped", zap.Int("sent", sent), zap.Int("failed", failed), zap.Int("skipped", skipped))
			return
		case err := <-results:
			collect(err)
		case <-ticker.C:
			if inFlight >= maxTrafficInFlight {
				skipped++
				continue
			}
			rq := mix[sent%len(mix)]
			rq.key = keys[(sent/len(mix))%len(keys)]
			inFlight++
			sent++
			go func() { results <- sendOne(ctx, client, base, rq) }()
		}
	}
}

// sendOne sends one request and reads the whole answer (streams included).
func sendOne(ctx context.Context, client *http.Client, base string, rq trafficRequest) error {
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, base+rq.path, body)
	if err != nil {
		return err
	}
	if rq.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "strangler-demo-traffic")
	if rq.key != "" {
		req.Header.Set("X-API-Key", rq.key)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopping
		}
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil && ctx.Err() == nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s %s: %s", rq.method, rq.path, resp.Status)
	}
	return nil
}
