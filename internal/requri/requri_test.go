package requri

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPath(t *testing.T) {
	tests := []struct{ uri, fallback, want string }{
		{"/api/qa?x=1", "/fb", "/api/qa"},
		{"/a%2Fb/{id}/café;v=1", "/fb", "/a%2Fb/{id}/café;v=1"},
		{"//double//slash?q", "/fb", "//double//slash"},
		{"http://host:8080/p%20q?z", "/fb", "/p%20q"},
		{"http://host", "/fb", "/"},
		{"*", "*", "*"},
		{"host:443", "/fb", "/fb"},
		{"", "/built/in/go", "/built/in/go"},
		{"?only=query", "/fb", "/fb"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Path(tc.uri, tc.fallback), "uri %q", tc.uri)
	}
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{"/a?b", "http://h/p", "*", "", "//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		p := Path(uri, "/fallback")
		if p != "/fallback" && p != "/" && len(p) > len(uri) {
			t.Fatalf("path %q longer than the request target %q", p, uri)
		}
	})
}
