package shadow

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{"x-api-key"}, []string{"password", "api_key", "refresh_token"})
	h := r.Header(http.Header{"Authorization": {"Bearer a"}, "X-Api-Key": {"k1", "k2"}, "Cookie": {"c"}, "X-Tenant-Assertion": {"jwt"}, "Accept": {"*/*"}})
	assert.Equal(t, http.Header{"Authorization": {Redacted}, "X-Api-Key": {Redacted, Redacted}, "Cookie": {Redacted}, "X-Tenant-Assertion": {Redacted}, "Accept": {"*/*"}}, h)

	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a=1&password=x&b=2", "a=1&password=%5BREDACTED%5D&b=2"},
		{"apiKey=1", "apiKey=%5BREDACTED%5D"},
		{"API-KEY=1&API_KEY=2", "API-KEY=%5BREDACTED%5D&API_KEY=%5BREDACTED%5D"},
		{"pass%77ord=secret", "password=%5BREDACTED%5D"},
		{"%zz=1&password", "%zz=1&password=%5BREDACTED%5D"},
		{"password=a=b", "password=%5BREDACTED%5D"},
		{";;&&=", ";;&&="},
	} {
		assert.Equal(t, tc.want, r.Query(tc.in), tc.in)
	}

	b := r.Body([]byte(`{"user":{"Password":"p","name":"n","tokens":[{"refresh_token":"r"}]},"api_key":{"nested":"x"}}`), "application/json", 1<<10)
	assert.False(t, b.Truncated)
	assert.NotContains(t, b.Text, `"p"`)
	assert.NotContains(t, b.Text, `"r"`)
	assert.NotContains(t, b.Text, `"x"`)
	var v map[string]any
	assert.NoError(t, json.Unmarshal([]byte(b.Text), &v))

	form := r.Body([]byte("user=a&password=b"), "application/x-www-form-urlencoded; charset=utf-8", 1<<10)
	assert.Equal(t, "user=a&password=%5BREDACTED%5D", form.Text)

	bin := r.Body([]byte{0xff, 0xfe, 0, 1}, "application/octet-stream", 1<<10)
	assert.True(t, bin.Base64)
	assert.Equal(t, "//4AAQ==", bin.Text)

	long := r.Body([]byte(strings.Repeat("é", 100)), "text/plain", 51)
	assert.True(t, long.Truncated)
	assert.Equal(t, 200, long.Length)
	assert.Equal(t, strings.Repeat("é", 25), long.Text, "truncated on a rune boundary")

	var nilRedactor *Redactor
	assert.Equal(t, "a=1", nilRedactor.Query("a=1"))
	assert.False(t, nilRedactor.header("Authorization"))
}
