// Package requri reads the path of a request exactly as the client sent it
// in the request line, so the proxy and the shadow copies can forward it
// byte for byte. r.URL.EscapedPath() is not enough: it re-escapes bytes
// such as '{' or raw UTF-8 that net/url deems invalid in a path.
package requri

import "strings"

// Path returns the escaped path of requestURI (origin form "/p?q" or
// absolute form "http://host/p?q"), without the query. For "*", the
// authority form or an empty RequestURI (a request built in Go) it returns
// escapedFallback, normally r.URL.EscapedPath().
func Path(requestURI, escapedFallback string) string {
	uri := requestURI
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if strings.HasPrefix(uri, "/") {
		return uri
	}
	// Absolute form: "http://host/path".
	if i := strings.Index(uri, "://"); i > 0 {
		rest := uri[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return escapedFallback
}
