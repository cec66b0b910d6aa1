package tenancy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// JWKSOptions tune how remote JWK Sets are fetched. The defaults (set in
// withDefaults) follow one rule: a token with an unknown kid may trigger a
// refetch, but a flood of them can neither stall requests nor hammer the
// issuer.
type JWKSOptions struct {
	// RefreshInterval refetches every JWK Set in the background, which is
	// also how a key removed by the issuer stops being accepted. Default 10m.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the minimum time between two refetches caused
	// by a token whose kid is not in the set (keyfunc's RefreshUnknownKID
	// limiter, burst 1). A flood of random kids costs the issuer at most one
	// request per interval. A genuine rotation right after a flood waits for
	// the next slot or the background refresh. Default 30s.
	UnknownKIDInterval time.Duration
	// WaitMax bounds how long one verification may wait for that limiter
	// plus the refetch itself (it is also bounded by the request context). A
	// request that would have to wait longer fails at once as unknown kid.
	// Default 2s.
	WaitMax time.Duration
	// HTTPTimeout bounds the first fetch and each background refresh.
	// Default 5s.
	HTTPTimeout time.Duration
	// MaxBodyBytes caps a JWK Set document. Default 1 MiB.
	MaxBodyBytes int64
	// Client fetches the sets. Default: a client with HTTPTimeout.
	Client *http.Client
}

func (o JWKSOptions) withDefaults() JWKSOptions {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 10 * time.Minute
	}
	if o.UnknownKIDInterval <= 0 {
		o.UnknownKIDInterval = 30 * time.Second
	}
	if o.WaitMax <= 0 {
		o.WaitMax = 2 * time.Second
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 5 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	return o
}

// remoteJWKS is one issuer's JWK Set, fetched over HTTP by jwkset and read
// through keyfunc. The set itself lives in a generationStore that tells the
// verifier when a key disappears, so tokens verified with it leave the
// verified-token cache at once instead of at their exp.
type remoteJWKS struct {
	url   string
	kf    keyfunc.Keyfunc
	store *generationStore
}

// newRemoteJWKS fetches the set once (failure is logged, not fatal: the
// issuer may be briefly down at start; unknown-kid refreshes and the
// background refresh recover) and starts the background refresh, which
// stops when ctx ends.
func newRemoteJWKS(ctx context.Context, rawURL string, o JWKSOptions, onRemoved func(), log *zap.Logger) (*remoteJWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("jwks_url %q: not an http(s) URL", rawURL)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		log.Warn("jwks_url is plain http: keys can be replaced in transit", zap.String("jwks_url", rawURL))
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: o.HTTPTimeout}
	}
	limited := *client
	base := limited.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	limited.Transport = &limitedBodyTransport{base: base, max: o.MaxBodyBytes}

	gs := &generationStore{MemoryJWKSet: jwkset.NewMemoryStorage(), onRemoved: onRemoved}
	httpStore, err := jwkset.NewStorageFromHTTP(rawURL, jwkset.HTTPClientStorageOptions{
		Client:                    &limited,
		Ctx:                       ctx,
		HTTPTimeout:               o.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("jwks refresh failed", zap.String("jwks_url", rawURL), zap.Error(err))
		},
		RefreshInterval: o.RefreshInterval,
		Storage:         gs,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %q: %w", rawURL, err)
	}
	client2, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{rawURL: httpStore},
		RateLimitWaitMax:  o.WaitMax,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDInterval), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %q: %w", rawURL, err)
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:     ctx,
		Storage: client2,
		// Keys marked for encryption never verify signatures; keys without
		// "use" are accepted (RFC 7517 makes it optional).
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %q: %w", rawURL, err)
	}
	return &remoteJWKS{url: rawURL, kf: kf, store: gs}, nil
}

// hasKID reports whether the current set holds kid, without any refetch.
func (r *remoteJWKS) hasKID(ctx context.Context, kid string) bool {
	_, err := r.store.KeyRead(ctx, kid)
	return err == nil
}

// generationStore is jwkset's memory storage that notices, on every
// refresh, whether a key that was there is gone (or changed under the same
// kid) and then calls onRemoved.
type generationStore struct {
	*jwkset.MemoryJWKSet
	onRemoved func()

	mu       sync.Mutex // guards known; held only while comparing, never across I/O
	known    map[string]struct{}
	replaced atomic.Int64
}

// KeyReplaceAll implements jwkset.Storage.
func (g *generationStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	next := make(map[string]struct{}, len(given))
	for _, k := range given {
		next[jwkFingerprint(k)] = struct{}{}
	}
	if err := g.MemoryJWKSet.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	g.replaced.Add(1)
	g.mu.Lock()
	removed := false
	for fp := range g.known {
		if _, ok := next[fp]; !ok {
			removed = true
			break
		}
	}
	g.known = next
	g.mu.Unlock()
	if removed && g.onRemoved != nil {
		g.onRemoved()
	}
	return nil
}

// jwkFingerprint identifies a key by kid and public material.
func jwkFingerprint(k jwkset.JWK) string {
	m := k.Marshal()
	pub := struct {
		KID, KTY, ALG, CRV, X, Y, N, E, K string
	}{m.KID, string(m.KTY), string(m.ALG), string(m.CRV), m.X, m.Y, m.N, m.E, m.K}
	b, _ := json.Marshal(pub)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// limitedBodyTransport caps response bodies: jwkset decodes the body with no
// limit, and a JWK Set endpoint should never send megabytes.
type limitedBodyTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *limitedBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, t.max+1), c: resp.Body, max: t.max}
	return resp, nil
}

type limitedBody struct {
	r   io.Reader
	c   io.Closer
	n   int64
	max int64
}

var errJWKSTooLarge = errors.New("jwk set document too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n, errJWKSTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
