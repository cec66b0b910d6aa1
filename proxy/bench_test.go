package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/config"
)

// Benchmarks of the whole pipeline with a 1 KiB response.
//
//	go test -run '^$' -bench Pipeline -benchmem ./proxy/
//
// BenchmarkPipeline drives Server.Handler directly against an upstream that
// answers from a canned byte slice, so ns/op and allocs/op are the proxy's
// own: request id, route match, state, ReverseProxy, transport (both
// directions of the upstream exchange), access log (JSON, to io.Discard) and
// metrics. BenchmarkPipelineHTTP adds the client and the public listener;
// BenchmarkDirectHTTP is the same client against the same upstream without
// the proxy, so the difference is what the proxy costs end to end.

const benchBodySize = 1 << 10

// cannedUpstream is a minimal HTTP/1.1 server that answers every request with
// the same 1 KiB response and allocates nothing per request.
func cannedUpstream(b *testing.B) string {
	b.Helper()
	body := bytes.Repeat([]byte("x"), benchBodySize)
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"), body...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 8<<10)
				for {
					// Requests are bodyless GETs: read up to the blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// discardWriter is a ResponseWriter that keeps nothing but the header map.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// benchServer builds a Server with production-like logging (JSON to
// io.Discard at info) and the route map of the first user.
func benchServer(b *testing.B, upstreamURL string) *Server {
	b.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	cfg := &config.Config{
		Upstreams: config.Upstreams{Legacy: config.Upstream{URL: upstreamURL}},
		Routes:    sevenCyclesRoutes(),
	}
	srv, err := New(Options{Config: cfg, Logger: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func benchRequest() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://app.example/api/instagram/posts/123?fields=id,caption", nil)
	req.RequestURI = "/api/instagram/posts/123?fields=id,caption"
	req.RemoteAddr = "10.0.0.7:51234"
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.signature")
	return req
}

func BenchmarkPipeline(b *testing.B) {
	srv := benchServer(b, cannedUpstream(b))
	h := srv.Handler()
	req := benchRequest()
	w := &discardWriter{h: make(http.Header)}
	// Warm the connection pool and the metric children.
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	b.StopTimer()
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
}

// benchClient is a keep-alive client for the HTTP benchmarks.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true,
	}}
}

func runHTTPBench(b *testing.B, url string) {
	client := benchClient()
	defer client.CloseIdleConnections()
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4<<10)
		for pb.Next() {
			res, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.CopyBuffer(io.Discard, res.Body, buf)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || n != benchBodySize {
				b.Errorf("status %d, %d bytes", res.StatusCode, n)
				return
			}
		}
	})
}

func benchUpstream(b *testing.B) string {
	body := bytes.Repeat([]byte("x"), benchBodySize)
	up := upstream(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return up.URL
}

func BenchmarkPipelineHTTP(b *testing.B) {
	upURL := benchUpstream(b)
	srv := benchServer(b, upURL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(guard):
			b.Error("Serve did not stop")
		}
	}()
	runHTTPBench(b, fmt.Sprintf("http://%s/api/instagram/posts/123?fields=id,caption", ln.Addr()))
}

func BenchmarkDirectHTTP(b *testing.B) {
	runHTTPBench(b, benchUpstream(b)+"/api/instagram/posts/123?fields=id,caption")
}

func BenchmarkRouteMatch(b *testing.B) {
	table, err := compileRoutes(sevenCyclesRoutes())
	if err != nil {
		b.Fatal(err)
	}
	var sc matchScratch
	b.ReportAllocs()
	for b.Loop() {
		if r, _, _ := table.match("GET", "/api/instagram/posts/123", &sc); r == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkRequestIDGenerate(b *testing.B) {
	g, err := newIDGenerator()
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		_ = g.requestID(h)
	}
}
