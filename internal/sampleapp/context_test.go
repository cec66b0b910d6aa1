package sampleapp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestContextEndpointOnlyOnTheTenantAwareService(t *testing.T) {
	req := httptest.NewRequest("GET", "/api/context", nil)
	req.Header.Set(HeaderOrgSlug, "acme")
	req.Header.Set("X-Tenant-Role", "member")
	rec := httptest.NewRecorder()
	NewTenantAware().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"org_slug":"acme"`)
	assert.Contains(t, rec.Body.String(), `"role":"member"`)

	rec = httptest.NewRecorder()
	NewLegacy().ServeHTTP(rec, httptest.NewRequest("GET", "/api/context", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
