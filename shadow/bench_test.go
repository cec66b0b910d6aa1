package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// benchDoc builds a realistic API answer of about size bytes: a list of
// items with nested objects, numbers, strings and arrays. variant changes
// one title and one number so that the documents differ in two places.
func benchDoc(size, variant int) []byte {
	type author struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	type item struct {
		ID        int      `json:"id"`
		Title     string   `json:"title"`
		Score     float64  `json:"score"`
		Tags      []string `json:"tags"`
		Author    author   `json:"author"`
		Published bool     `json:"published"`
		Body      string   `json:"body"`
	}
	var items []item
	for i := 0; ; i++ {
		it := item{ID: i, Title: fmt.Sprintf("Item number %d", i), Score: float64(i) * 1.5,
			Tags: []string{"a", "b", "c"}, Author: author{ID: i % 7, Name: "Ada Lovelace"}, Published: i%2 == 0,
			Body: "Lorem ipsum dolor sit amet, consectetur adipiscing elit."}
		if variant == 1 && i == 3 {
			it.Title = "Changed"
			it.Score = 99
		}
		items = append(items, it)
		b, _ := json.Marshal(map[string]any{"items": items, "total": len(items), "generated_at": "2026-01-01T00:00:00Z"})
		if len(b) >= size {
			return b
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	rules := MustCompileRules(config.RouteShadow{IgnorePaths: []string{"$.generated_at", "$.items[*].author.id"}, UnorderedArrays: []string{"$.items[*].tags"}})
	for _, size := range []int{2 << 10, 200 << 10} {
		a, c := benchDoc(size, 0), benchDoc(size, 1)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(a) + len(c)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := DiffJSON(a, c, rules)
				if err != nil || len(d) != 2 {
					b.Fatalf("%v %v", d, err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dKiB-one-item-inserted", size>>10), func(b *testing.B) {
			// The candidate has one more item at the front: the arrays
			// are aligned (jsonalign.go), one addition is reported.
			var doc map[string]any
			require.NoError(b, json.Unmarshal(a, &doc))
			items := doc["items"].([]any)
			doc["items"] = append([]any{map[string]any{"inserted": true}}, items...)
			ins, err := json.Marshal(doc)
			require.NoError(b, err)
			b.SetBytes(int64(len(a) + len(ins)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := DiffJSON(a, ins, rules)
				if err != nil || len(d) != 1 || d[0].Kind != KindAdded {
					b.Fatalf("%v %v", d, err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dKiB-compare-equal-reencoded", size>>10), func(b *testing.B) {
			// Same document, different bytes: the full structural walk.
			v, _ := decodeJSON(a)
			re, _ := json.Marshal(v)
			re = append([]byte(" "), re...)
			b.SetBytes(int64(len(a) + len(re)))
			b.ReportAllocs()
			pa, pc := Answer{Status: 200, Body: a}, Answer{Status: 200, Body: re}
			for b.Loop() {
				rep, err := rules.Compare(pa, pc, CompareOptions{})
				if err != nil || !rep.Match() {
					b.Fatalf("%v %v", rep, err)
				}
			}
		})
	}
}

// BenchmarkTee measures what the tee adds to moving a body: the same copy
// with and without a Capture (pool get, copy, seal, pool put).
func BenchmarkTee(b *testing.B) {
	pool := newBufferPool(1 << 20)
	for _, size := range []int{2 << 10, 64 << 10, 1 << 20} {
		src := bytes.Repeat([]byte("x"), size)
		buf := make([]byte, 32<<10) // ReverseProxy's copy buffer
		b.Run(fmt.Sprintf("plain-%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			r := bytes.NewReader(src)
			for b.Loop() {
				r.Reset(src)
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("tee-%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			r := bytes.NewReader(src)
			var c Capture
			tee := &teeBody{rc: io.NopCloser(r), c: &c}
			for b.Loop() {
				r.Reset(src)
				c = Capture{}
				c.init(pool, int64(size))
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{tee}, buf); err != nil {
					b.Fatal(err)
				}
				pb, _, reason := c.seal()
				if reason != "" {
					b.Fatal(reason)
				}
				pool.put(pb)
			}
		})
	}
}

// BenchmarkSubmit measures the serving path's hand-off: accepted (a
// goroutine drains the queue) and dropped (the queue is full).
func BenchmarkSubmit(b *testing.B) {
	c := Comparison{Route: "qa", OrgID: "org", Serving: BackendLegacy, Method: "GET", URL: &urlRoot,
		Response: Answer{Status: 200, Body: []byte(`{"ok":true}`)}, Latency: time.Millisecond}
	b.Run("accepted", func(b *testing.B) {
		e := benchEngine(b, 4096)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case x := <-e.queue:
					e.queued.Add(-x.size())
				case <-stop:
					return
				}
			}
		}()
		b.ReportAllocs()
		for b.Loop() {
			for !e.Submit(c) {
			}
		}
		close(stop)
	})
	b.Run("queue-full", func(b *testing.B) {
		e := benchEngine(b, 1)
		e.Submit(c)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go e.rec.Run(ctx)
		b.ReportAllocs()
		for b.Loop() {
			if e.Submit(c) {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("not-sampled", func(b *testing.B) {
		half := 0.0
		e, err := NewEngine(Options{Store: NewMemoryStore(MemoryStoreOptions{}), Routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{SampleRate: &half}}}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if e.Wants("qa", "GET") {
				b.Fatal("sampled")
			}
		}
	})
}

var urlRoot = *mustParse("/api/qa")

func benchEngine(b *testing.B, queue int) *Engine {
	e, err := NewEngine(Options{Store: NewMemoryStore(MemoryStoreOptions{}), Routes: []config.Route{{Name: "qa"}},
		Shadow: config.Shadow{QueueSize: queue}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkServingPath is a request through a real front server and
// httputil.ReverseProxy to a real primary, with shadowing off, on with a
// matching candidate, and on with a candidate that never answers (the queue
// fills and comparisons are dropped). The difference between off and the
// others is the serving path's cost of shadowing.
func BenchmarkServingPath(b *testing.B) {
	body := strings.Repeat(`{"id":1,"title":"hello"},`, 80) // 2 KiB
	body = "[" + body[:len(body)-1] + "]"
	t := &testing.T{}
	for _, mode := range []string{"off", "on-match", "on-blocked-candidate"} {
		b.Run(mode, func(b *testing.B) {
			primary := newBenchServer(b, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			})
			release := make(chan struct{})
			var blocked atomic.Bool
			blocked.Store(mode == "on-blocked-candidate")
			candidate := newBenchServer(b, func(w http.ResponseWriter, r *http.Request) {
				if blocked.Load() {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			})
			rate := 1.0
			if mode == "off" {
				rate = 0
			}
			e, err := NewEngine(Options{Store: NewMemoryStore(MemoryStoreOptions{}), Legacy: mustParse(primary.URL), New: mustParse(candidate.URL),
				Routes: []config.Route{{Name: "qa", Shadow: config.RouteShadow{SampleRate: &rate}}}, Shadow: config.Shadow{Workers: 2, QueueSize: 256}})
			if err != nil {
				b.Fatal(err)
			}
			if err := e.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			front := servingPath(t, e, mustParse(primary.URL), "qa", "org", BackendLegacy)
			client := front.Client()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				resp, err := client.Get(front.URL + "/api/qa")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.StopTimer()
			close(release)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = e.Shutdown(ctx)
			cancel()
			front.Close()
		})
	}
}
