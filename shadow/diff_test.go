package shadow

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func br(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func zl(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func rawDeflate(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.DefaultCompression)
	require.NoError(t, err)
	_, err = w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestCompareStatusAndHeaders(t *testing.T) {
	rules := MustCompileRules(config.RouteShadow{IgnoreHeaders: []string{"x-trace"}})
	p := Answer{Status: 200, Header: hdr("Content-Type", "application/json", "Date", "Mon", "X-Request-Id", "1",
		"X-Trace", "a", "Cache-Control", "no-store", "Vary", "A", "Vary", "B", "Connection", "close", "Content-Length", "2"), Body: []byte(`{}`)}
	c := Answer{Status: 201, Header: hdr("content-type", "application/json", "Date", "Tue", "X-Request-Id", "2",
		"X-Trace", "b", "Vary", "B", "Vary", "A", "Etag", "x", "Transfer-Encoding", "chunked", "Content-Length", "3"), Body: []byte(`{ }`)}
	rep, err := rules.Compare(p, c, CompareOptions{})
	require.NoError(t, err)
	assert.Equal(t, []d{
		{"status", "changed", "200", "201"},
		{"header:Cache-Control", "removed", `["no-store"]`, ""},
		{"header:Etag", "added", "", `["x"]`},
		{"header:Vary", "changed", `["A","B"]`, `["B","A"]`},
	}, toD(rep.Differences))
	assert.Equal(t, 4, rep.Total)
	assert.Equal(t, []PathKind{
		{"header:Cache-Control", KindRemoved}, {"header:Etag", KindAdded}, {"header:Vary", KindChanged}, {"status", KindChanged},
	}, rep.Pattern)
}

func TestCompareDecodesContentEncoding(t *testing.T) {
	doc := `{"items":[{"id":1,"title":"a"}],"n":1.0}`
	same := `{"n":1,"items":[{"title":"a","id":1}]}`
	rules := MustCompileRules(config.RouteShadow{IgnoreHeaders: []string{"Content-Encoding"}})
	for _, tc := range []struct {
		name string
		enc  string
		body []byte
	}{
		{"gzip", "gzip", gz(t, doc)},
		{"x-gzip", "x-gzip", gz(t, doc)},
		{"br", "br", br(t, doc)},
		{"deflate zlib", "deflate", zl(t, doc)},
		{"deflate raw", "deflate", rawDeflate(t, doc)},
		{"stacked", "gzip, br", br(t, string(gz(t, doc)))},
		{"identity", "identity", []byte(doc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := rules.Compare(
				Answer{Status: 200, Header: hdr("Content-Encoding", tc.enc), Body: tc.body},
				Answer{Status: 200, Header: hdr(), Body: []byte(same)}, CompareOptions{})
			require.NoError(t, err)
			assert.True(t, rep.Match(), "%v", rep.Differences)
		})
	}
}

func TestCompareGzipDifferenceIsStructural(t *testing.T) {
	rep, err := MustCompileRules(config.RouteShadow{}).Compare(
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: gz(t, `{"a":1,"b":2}`)},
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: gz(t, `{"a":1,"b":3}`)}, CompareOptions{})
	require.NoError(t, err)
	assert.Equal(t, []d{{"$.b", "changed", "2", "3"}}, toD(rep.Differences))
}

func TestCompareDecodedLimit(t *testing.T) {
	bomb := gz(t, strings.Repeat("0", 1<<20))
	rules := MustCompileRules(config.RouteShadow{})
	_, err := rules.Compare(
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: bomb},
		Answer{Status: 200, Header: hdr(), Body: []byte("x")}, CompareOptions{DecodedLimit: 64 << 10})
	var be *BodyError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, SidePrimary, be.Side)
	assert.ErrorIs(t, err, ErrDecodedTooLarge)

	_, err = rules.Compare(
		Answer{Status: 200, Header: hdr(), Body: []byte("x")},
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: bomb}, CompareOptions{DecodedLimit: 64 << 10})
	require.ErrorAs(t, err, &be)
	assert.Equal(t, SideCandidate, be.Side)
}

func TestCompareCorruptOrUnknownEncodingFallsBackToBytes(t *testing.T) {
	rules := MustCompileRules(config.RouteShadow{})
	rep, err := rules.Compare(
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: []byte("not gzip")},
		Answer{Status: 200, Header: hdr("Content-Encoding", "gzip"), Body: []byte("not gzip")}, CompareOptions{})
	require.NoError(t, err)
	assert.True(t, rep.Match())
	rep, err = rules.Compare(
		Answer{Status: 200, Header: hdr("Content-Encoding", "zstd"), Body: []byte("aaaa")},
		Answer{Status: 200, Header: hdr("Content-Encoding", "zstd"), Body: []byte("aaab")}, CompareOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Differences, 1)
	assert.Equal(t, "body", rep.Differences[0].Path)
}

func TestCompareNonJSONBodies(t *testing.T) {
	rules := MustCompileRules(config.RouteShadow{})
	rep, err := rules.Compare(Answer{Status: 200, Body: []byte("<p>hello</p>")}, Answer{Status: 200, Body: []byte("<p>hello</p>")}, CompareOptions{})
	require.NoError(t, err)
	assert.True(t, rep.Match())

	rep, err = rules.Compare(Answer{Status: 200, Body: []byte("<p>hello</p>")}, Answer{Status: 200, Body: []byte("<p>help</p>!")}, CompareOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Differences, 1)
	got := rep.Differences[0]
	assert.Equal(t, "body", got.Path)
	assert.Equal(t, KindChanged, got.Kind)
	var sum struct {
		Type   string `json:"type"`
		Length int    `json:"length"`
		SHA    string `json:"sha256"`
		First  int    `json:"first_difference_at"`
	}
	require.NoError(t, json.Unmarshal(got.Primary, &sum))
	assert.Equal(t, "bytes", sum.Type)
	assert.Equal(t, 12, sum.Length)
	assert.Equal(t, 6, sum.First)
	assert.Len(t, sum.SHA, 64)

	// JSON against non-JSON is a type difference at the body.
	rep, err = rules.Compare(Answer{Status: 200, Body: []byte(`{"a":1}`)}, Answer{Status: 200, Body: []byte(`<html>`)}, CompareOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Differences, 1)
	assert.Equal(t, "body", rep.Differences[0].Path)
	assert.Equal(t, KindType, rep.Differences[0].Kind)

	// Empty against JSON.
	rep, err = rules.Compare(Answer{Status: 204}, Answer{Status: 204, Body: []byte(`{}`)}, CompareOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Differences, 1)
	assert.Equal(t, KindType, rep.Differences[0].Kind)
}

func TestCompareNoiseSuppression(t *testing.T) {
	rules := MustCompileRules(config.RouteShadow{})
	noise := NoiseSet{"$.items[*].ts": {}, "header:Etag": {}, "$.meta": {}}
	rep, err := rules.Compare(
		Answer{Status: 200, Header: hdr("Etag", "1"), Body: []byte(`{"items":[{"ts":1,"v":1},{"ts":2,"v":2}],"meta":{"a":1},"x":1}`)},
		Answer{Status: 200, Header: hdr("Etag", "2"), Body: []byte(`{"items":[{"ts":3,"v":1},{"ts":4,"v":2}],"meta":{"a":2},"x":2}`)},
		CompareOptions{Noise: noise})
	require.NoError(t, err)
	assert.Equal(t, []d{{"$.x", "changed", "1", "2"}}, toD(rep.Differences))
	assert.Equal(t, 4, rep.NoiseSuppressed)
	assert.Equal(t, []PathKind{{"$.x", KindChanged}}, rep.Pattern)
}

func TestCompareRedactsValues(t *testing.T) {
	rules := MustCompileRules(config.RouteShadow{})
	red := NewRedactor([]string{"X-Api-Key"}, []string{"password", "api_key"})
	rep, err := rules.Compare(
		Answer{Status: 200, Header: hdr("Set-Cookie", "s=1", "X-Api-Key", "k1"), Body: []byte(`{"user":{"password":"p1","name":"a"},"apiKey":"x","list":[{"token":"t"}]}`)},
		Answer{Status: 200, Header: hdr("Set-Cookie", "s=2", "X-Api-Key", "k2"), Body: []byte(`{"user":{"password":"p2","name":"b"},"apiKey":"y","extra":{"API-KEY":"z","ok":1}}`)},
		CompareOptions{Redact: red})
	require.NoError(t, err)
	all, err := json.Marshal(rep.Differences)
	require.NoError(t, err)
	for _, secret := range []string{"p1", "p2", `"x"`, `"y"`, `"z"`, "k1", "k2", "s=1", "s=2"} {
		assert.NotContains(t, string(all), secret)
	}
	assert.Contains(t, string(all), `"$.user.name"`)
	assert.Contains(t, string(all), `"ok":1`)
	assert.Contains(t, string(all), `"token":"t"`, "token is not in this redactor's list")
}

func TestFingerprint(t *testing.T) {
	a := Fingerprint("qa", []PathKind{{"$.a", KindChanged}, {"$.b[*]", KindAdded}})
	b := Fingerprint("qa", []PathKind{{"$.b[*]", KindAdded}, {"$.a", KindChanged}, {"$.a", KindChanged}})
	assert.Equal(t, a, b, "order and duplicates do not matter")
	assert.Len(t, a, FingerprintLen)
	assert.NotEqual(t, a, Fingerprint("other", []PathKind{{"$.a", KindChanged}, {"$.b[*]", KindAdded}}))
	assert.NotEqual(t, a, Fingerprint("qa", []PathKind{{"$.a", KindType}, {"$.b[*]", KindAdded}}))
	// No ambiguity from concatenation.
	assert.NotEqual(t, Fingerprint("q", []PathKind{{"a$.x", KindChanged}}), Fingerprint("qa", []PathKind{{"$.x", KindChanged}}))

	// The same difference in another element lands in the same class.
	rules := MustCompileRules(config.RouteShadow{})
	r1, err := rules.Compare(Answer{Status: 200, Body: []byte(`[{"t":1},{"t":1}]`)}, Answer{Status: 200, Body: []byte(`[{"t":2},{"t":1}]`)}, CompareOptions{})
	require.NoError(t, err)
	r2, err := rules.Compare(Answer{Status: 200, Body: []byte(`[{"t":1},{"t":1}]`)}, Answer{Status: 200, Body: []byte(`[{"t":1},{"t":5}]`)}, CompareOptions{})
	require.NoError(t, err)
	assert.Equal(t, Fingerprint("qa", r1.Pattern), Fingerprint("qa", r2.Pattern))
}
