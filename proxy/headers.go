package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
)

// Header hygiene on the way to an upstream. httputil.ReverseProxy has
// already removed the hop-by-hop headers (RFC 9110 §7.6.1) — the fixed list
// and every header named in Connection — from the outbound request before
// Rewrite runs, and removes them from the response before it is copied.
// What remains here is what the proxy adds or must not let through.

// Canonical header keys (http.CanonicalHeaderKey forms) set by the proxy.
const (
	headerXForwardedFor   = "X-Forwarded-For"
	headerXForwardedHost  = "X-Forwarded-Host"
	headerXForwardedProto = "X-Forwarded-Proto"
	headerForwarded       = "Forwarded"

	headerTenantOrgID     = "X-Tenant-Org-Id"
	headerTenantOrgSlug   = "X-Tenant-Org-Slug"
	headerTenantProjectID = "X-Tenant-Project-Id"
	headerTenantUserID    = "X-Tenant-User-Id"
	headerTenantRole      = "X-Tenant-Role"
	headerTenantAssertion = "X-Tenant-Assertion"

	headerDebugBackend = "X-Strangler-Backend"
	headerDebugMode    = "X-Strangler-Mode"
)

// tenantHeaderPrefix is matched case-insensitively, '_' standing for '-'.
const tenantHeaderPrefix = "x-tenant-"

// isTenantHeader reports whether the header name k belongs to the X-Tenant-*
// family: any case, and with '_' in place of '-', because CGI/WSGI servers
// (gunicorn, PHP) map X_Tenant_Org_ID and X-Tenant-Org-ID to the same
// variable, so an underscore variant is as good a spoof as the real name.
func isTenantHeader(k string) bool {
	if len(k) < len(tenantHeaderPrefix) {
		return false
	}
	for i := 0; i < len(tenantHeaderPrefix); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != tenantHeaderPrefix[i] {
			return false
		}
	}
	return true
}

// stripTenantHeaders deletes every X-Tenant-* header, whatever the case of
// its name and however many times it occurs, so only the proxy sets them.
func stripTenantHeaders(h http.Header) {
	for k := range h {
		if isTenantHeader(k) {
			delete(h, k)
		}
	}
}

// headerShadowRequest marks a shadow copy (SPEC §5): a backend that sees it
// may run the request without side effects. Only the shadow engine sets it.
const headerShadowRequest = "X-Shadow-Request"

// shadowHeaderName is matched like tenantHeaderPrefix: any case, '_' for '-'.
const shadowHeaderName = "x-shadow-request"

// isShadowHeader reports whether the header name k is X-Shadow-Request in
// any case or with '_' for '-'. A client must not be able to send it: the
// serving backend would skip the side effects of a real request.
func isShadowHeader(k string) bool {
	if len(k) != len(shadowHeaderName) {
		return false
	}
	for i := 0; i < len(shadowHeaderName); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != shadowHeaderName[i] {
			return false
		}
	}
	return true
}

// stripReservedHeaders deletes the headers only the proxy may set on an
// upstream request — X-Tenant-* and X-Shadow-Request, in every spelling —
// in one pass over the header map.
func stripReservedHeaders(h http.Header) {
	for k := range h {
		if isTenantHeader(k) || isShadowHeader(k) {
			delete(h, k)
		}
	}
}

// addTenantHeaders forwards the resolved tenant context. The (up to six)
// values share one backing array: one allocation per request, not six.
func addTenantHeaders(h http.Header, t *TenantContext) {
	if t == nil {
		return
	}
	keys := [...]string{headerTenantOrgID, headerTenantOrgSlug, headerTenantProjectID,
		headerTenantUserID, headerTenantRole, headerTenantAssertion}
	vals := &[len(keys)]string{t.OrgID, t.OrgSlug, t.ProjectID, t.UserID, t.Role, t.Assertion}
	for i, k := range keys {
		if vals[i] != "" {
			h[k] = vals[i : i+1 : i+1]
		}
	}
}

// setForwardedHeaders sets the X-Forwarded-* headers of the outbound request.
//
//   - X-Forwarded-For: the inbound values are kept and the client address is
//     appended, as every proxy in a chain does — exactly what
//     httputil.ProxyRequest.SetXForwarded does after the inbound header is
//     copied over (a test holds the two equal), without its allocations.
//   - X-Forwarded-Proto and X-Forwarded-Host: kept when the inbound request
//     has them, otherwise set to what this proxy saw. They are
//     single-valued in practice: appending ("https, http") breaks the
//     frameworks that read them (uvicorn takes the whole value as the
//     scheme), and overwriting them would tell a legacy service behind a
//     TLS-terminating load balancer that its clients now use plain http.
//     Keeping them gives the upstream exactly what it saw before the proxy.
//   - Forwarded (RFC 7239) is passed through unchanged for the same reason.
//
// httputil.ReverseProxy removes all four before Rewrite, so nothing here is
// trusted blindly: each is copied on purpose. st supplies backing arrays for
// the values; it may be nil.
func setForwardedHeaders(pr *httputil.ProxyRequest, st *requestState) {
	in, out := pr.In, pr.Out.Header
	if st == nil {
		st = &requestState{}
	}
	if v := in.Header[headerForwarded]; len(v) > 0 {
		out[headerForwarded] = v
	}
	prior := in.Header[headerXForwardedFor]
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		st.fwdFor[0] = ip
		out[headerXForwardedFor] = st.fwdFor[:]
	} else {
		// No peer address (a unix socket): SetXForwarded drops the chain.
		delete(out, headerXForwardedFor)
	}
	if v := in.Header[headerXForwardedHost]; len(v) > 0 {
		out[headerXForwardedHost] = v
	} else {
		st.fwdHost[0] = in.Host
		out[headerXForwardedHost] = st.fwdHost[:]
	}
	if v := in.Header[headerXForwardedProto]; len(v) > 0 {
		out[headerXForwardedProto] = v
	} else {
		st.fwdProto[0] = "http"
		if in.TLS != nil {
			st.fwdProto[0] = "https"
		}
		out[headerXForwardedProto] = st.fwdProto[:]
	}
}
