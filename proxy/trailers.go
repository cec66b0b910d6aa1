package proxy

import (
	"io"
	"net/http"
)

// Request trailers are headers too: a client may announce
// "Trailer: X-Tenant-Org-Id" (or send one unannounced) after a chunked
// body, and the upstream sees it in r.Trailer — some frameworks merge
// trailers into the headers. The reserved names (X-Tenant-*, X-Shadow-Request)
// are removed from trailers as from headers: the announced ones when the
// request is rewritten, the ones that arrive with the body at its end,
// before the transport writes the trailers out.

// stripReservedTrailers removes reserved names from out.Trailer now and,
// through a body wrapper, again when the body ends. It costs nothing for
// requests without trailers (nearly all).
func stripReservedTrailers(out *http.Request) {
	if out.Trailer == nil || out.Body == nil || out.Body == http.NoBody {
		return
	}
	stripReservedHeaders(out.Trailer)
	out.Body = &trailerScrubber{ReadCloser: out.Body, trailer: out.Trailer}
}

// trailerScrubber strips reserved trailer names when the body reaches
// EOF: net/http fills the inbound trailer map just before it returns EOF,
// and the transport writes the (shared) map just after.
type trailerScrubber struct {
	io.ReadCloser
	trailer http.Header
}

func (t *trailerScrubber) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		stripReservedHeaders(t.trailer)
	}
	return n, err
}
