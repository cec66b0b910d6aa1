package h1transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// Benchmarks of one GET of 1 KiB from an httptest server: the fast path
// against the wrapped http.Transport alone, one caller and many.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./internal/h1transport/

var kib = strings.Repeat("x", 1024)

func benchServer(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1024")
		_, _ = io.WriteString(w, kib)
	}))
	b.Cleanup(srv.Close)
	return srv.URL + "/"
}

// benchStd is the wrapped transport as the proxy sizes it.
func benchStd(b *testing.B) *http.Transport {
	std := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, DisableCompression: true}
	b.Cleanup(std.CloseIdleConnections)
	return std
}

func benchFast(b *testing.B) http.RoundTripper {
	tr := h1transport.New(benchStd(b), h1transport.Options{})
	b.Cleanup(tr.CloseIdleConnections)
	return tr
}

// benchGet sends one GET and reads its body through buf.
func benchGet(b *testing.B, rt http.RoundTripper, req *http.Request, buf []byte) {
	res, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, res.Body, buf)
	if err != nil || n != 1024 {
		b.Fatalf("read %d bytes: %v", n, err)
	}
	_ = res.Body.Close()
}

func benchSerial(b *testing.B, rt http.RoundTripper) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, benchServer(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		benchGet(b, rt, req, buf)
	}
}

func benchParallel(b *testing.B, rt http.RoundTripper) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, benchServer(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			benchGet(b, rt, req, buf)
		}
	})
}

func BenchmarkRoundTripFast(b *testing.B)         { benchSerial(b, benchFast(b)) }
func BenchmarkRoundTripStd(b *testing.B)          { benchSerial(b, benchStd(b)) }
func BenchmarkRoundTripFastParallel(b *testing.B) { benchParallel(b, benchFast(b)) }
func BenchmarkRoundTripStdParallel(b *testing.B)  { benchParallel(b, benchStd(b)) }
