package shadow

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
)

// Errors of body decoding.
var (
	// ErrDecodedTooLarge: the decoded body exceeds the decoded-size cap (a
	// compression bomb or simply a large document).
	ErrDecodedTooLarge = errors.New("decoded body too large")
	// ErrUnsupportedEncoding: a Content-Encoding this package cannot decode;
	// such bodies are compared as bytes.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
)

// DecodeBody undoes the Content-Encoding of a body: a list such as
// "gzip, br" is undone last to first. gzip (x-gzip), deflate (zlib, or raw
// DEFLATE as some servers send), br and identity are supported. The decoded
// size is capped at limit bytes. An empty body stays empty whatever the
// header says (HEAD, 204, 304).
func DecodeBody(body []byte, contentEncoding string, limit int64) ([]byte, error) {
	if len(body) == 0 || strings.TrimSpace(contentEncoding) == "" {
		return body, nil
	}
	codings := strings.Split(contentEncoding, ",")
	out := body
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		var err error
		out, err = decodeOne(out, coding, limit)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", coding, err)
		}
	}
	return out, nil
}

func decodeOne(body []byte, coding string, limit int64) ([]byte, error) {
	switch coding {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return readCapped(zr, limit)
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err == nil {
			defer zr.Close()
			return readCapped(zr, limit)
		}
		fr := flate.NewReader(bytes.NewReader(body))
		defer fr.Close()
		return readCapped(fr, limit)
	case "br":
		return readCapped(brotli.NewReader(bytes.NewReader(body)), limit)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnsupportedEncoding, coding)
	}
}

// readCapped reads r to the end, failing with ErrDecodedTooLarge past limit.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, ErrDecodedTooLarge
	}
	return buf.Bytes(), nil
}
