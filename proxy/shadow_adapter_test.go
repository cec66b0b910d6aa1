package proxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRefreshAssertionHeader(t *testing.T) {
	calls := 0
	hook := RefreshAssertionHeader(func(_ context.Context, tok string) (string, error) {
		calls++
		if tok == "bad" {
			return "", errors.New("not ours")
		}
		return "fresh-" + tok, nil
	})
	ctx := context.Background()

	h := http.Header{headerTenantAssertion: {"a1"}}
	require.NoError(t, hook(ctx, h, AssertionRefreshAfter-time.Second))
	assert.Equal(t, "a1", h.Get(headerTenantAssertion), "a recent copy keeps its assertion")
	assert.Zero(t, calls)

	require.NoError(t, hook(ctx, h, AssertionRefreshAfter))
	assert.Equal(t, "fresh-a1", h.Get(headerTenantAssertion))
	assert.Len(t, h[headerTenantAssertion], 1)

	none := http.Header{}
	require.NoError(t, hook(ctx, none, time.Hour))
	assert.Empty(t, none.Get(headerTenantAssertion), "no assertion, nothing added")

	err := hook(ctx, http.Header{headerTenantAssertion: {"bad"}}, time.Hour)
	require.ErrorContains(t, err, "not ours")
}
