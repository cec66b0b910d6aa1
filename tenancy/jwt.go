package tenancy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/7cycles-ai/strangler/config"
	"go.uber.org/zap"
)

// JWTLeeway is the clock skew tolerated on exp, nbf and iat (SPEC §6).
const JWTLeeway = 30 * time.Second

// JWTVerifierOptions configure a JWTVerifier.
type JWTVerifierOptions struct {
	// Issuers are the trusted external issuers (config auth.jwt).
	Issuers []config.JWTIssuer
	// Builtin, when set, adds the built-in issuer: tokens whose iss is the
	// signer's are verified with its keys in process, no HTTP fetch.
	Builtin *Signer
	// JWKS tunes the fetching of remote key sets.
	JWKS JWKSOptions
	// CacheSize caps the verified-token cache (entries). Default 10,000;
	// an entry is a few hundred bytes. Negative disables the cache (every
	// request pays a signature check): for debugging and benchmarks.
	CacheSize int
	// CacheMaxTTL caps how long a verified token stays cached, whatever its
	// exp (never beyond exp). Default 10m.
	CacheMaxTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives key-refresh problems. Default: no logging.
	Logger *zap.Logger
}

// JWTVerifier verifies bearer JWTs against several trusted issuers and
// caches the verified ones until they expire.
//
// A token is matched to its issuer entry by iss; a token whose iss no entry
// names goes to the entries without issuer (self-hosted Supabase), by kid
// (a remote set that holds it first) and algorithm. The entry's own parser
// then checks everything: its algorithm allow-list, signature, exp
// (required), nbf and iat with JWTLeeway, aud (any of the entry's
// audiences) and iss (when the entry sets one).
//
// State shared between requests: the verified-token cache (sharded, bounded,
// keyed by SHA-256 of the token and the key generation) and the remote key
// sets (refreshed in the background and on unknown kid, rate limited). No
// lock is held across I/O; only the unknown-kid refetch does I/O on the
// request path, bounded by the request context and JWKSOptions.WaitMax.
type JWTVerifier struct {
	byIss  map[string]*jwtEntry
	issLes []*jwtEntry // entries without issuer, in configuration order
	algs   []string    // union of the allow-lists: anything else is refused before parsing

	cache  *ttlCache[tokenCacheKey, *Principal]
	maxTTL time.Duration
	gen    atomic.Uint64
	now    func() time.Time
	cancel context.CancelFunc
}

// tokenCacheKey binds a cache entry to the exact token bytes (and so to its
// issuer, claims and signature) and to the key generation, which moves when
// a trusted key disappears or the cache is invalidated.
type tokenCacheKey struct {
	gen uint64
	sum [sha256.Size]byte
}

// NewJWTVerifier validates the issuer configuration (every problem is
// reported) and fetches the remote key sets once. Background refreshes run
// until ctx ends or Close is called.
func NewJWTVerifier(ctx context.Context, opts JWTVerifierOptions) (*JWTVerifier, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 10_000
	}
	if opts.CacheMaxTTL <= 0 {
		opts.CacheMaxTTL = 10 * time.Minute
	}
	opts.JWKS = opts.JWKS.withDefaults()

	ctx, cancel := context.WithCancel(ctx)
	v := &JWTVerifier{
		byIss:  make(map[string]*jwtEntry),
		maxTTL: opts.CacheMaxTTL,
		now:    opts.Now,
		cancel: cancel,
	}
	if opts.CacheSize > 0 {
		v.cache = newTTLCache[tokenCacheKey, *Principal](opts.CacheSize, func(k tokenCacheKey) uint64 {
			return binary.LittleEndian.Uint64(k.sum[:8])
		})
	}
	var errs []error
	names := map[string]bool{}
	add := func(path string, e *jwtEntry) {
		if names[e.name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", path, e.name))
		}
		names[e.name] = true
		if e.iss == "" {
			v.issLes = append(v.issLes, e)
		} else if _, dup := v.byIss[e.iss]; dup {
			errs = append(errs, fmt.Errorf("%s.issuer: %q is trusted twice", path, e.iss))
		} else {
			v.byIss[e.iss] = e
		}
		for _, a := range e.algs {
			if !slices.Contains(v.algs, a) {
				v.algs = append(v.algs, a)
			}
		}
	}
	if opts.Builtin != nil {
		add("auth.issuer", builtinEntry(opts.Builtin, opts))
	}
	for i, c := range opts.Issuers {
		e, err := compileIssuer(ctx, i, c, opts, v.InvalidateCache, opts.Logger)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(fmt.Sprintf("auth.jwt[%d]", i), e)
	}
	if err := errors.Join(errs...); err != nil {
		cancel()
		return nil, err
	}
	return v, nil
}

// Close stops the background key refreshes.
func (v *JWTVerifier) Close() { v.cancel() }

// InvalidateCache forgets every verified token: the next request with each
// re-verifies it. Called when a trusted key disappears from a JWK Set;
// callable by operators after a key compromise.
func (v *JWTVerifier) InvalidateCache() {
	v.gen.Add(1)
	if v.cache != nil {
		v.cache.clear()
	}
}

// Verify checks a raw compact JWT and returns the caller it proves. Errors
// wrap ErrInvalidCredentials (ErrNotUserToken too for Supabase anon and
// service_role keys), or are the context's error when ctx ended first.
//
// The returned Principal may be shared with other requests: read-only.
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, invalidf("empty token")
	}
	if len(raw) > MaxTokenBytes {
		return nil, invalidf("token longer than %d bytes", MaxTokenBytes)
	}
	now := v.now()
	var key tokenCacheKey
	if v.cache != nil {
		key = tokenCacheKey{gen: v.gen.Load(), sum: sha256.Sum256(stringBytes(raw))}
		if p, ok := v.cache.get(key, now); ok {
			return p, nil
		}
	}

	tp, err := peekToken(raw)
	if err != nil {
		return nil, err
	}
	if tp.typ == assertionType {
		return nil, invalidf("a tenant assertion is not an access token")
	}
	if !slices.Contains(v.algs, tp.alg) {
		return nil, invalidf("algorithm %.32q not allowed", tp.alg)
	}
	if tp.sub == "" && (tp.role == "anon" || tp.role == "service_role") {
		// Supabase API keys: refused without spending a signature check.
		return nil, fmt.Errorf("%w: %w: role %q", ErrInvalidCredentials, ErrNotUserToken, tp.role)
	}

	var buf [4]*jwtEntry
	cands := v.route(ctx, tp, buf[:0])
	if len(cands) == 0 {
		return nil, invalidf("no trusted issuer for iss %.128q alg %s", tp.iss, tp.alg)
	}
	var firstErr error
	for _, e := range cands {
		var p *Principal
		if e.typ != "" && tp.typ != e.typ {
			err = invalidf("issuer %s: typ %.32q is not %s", e.name, tp.typ, e.typ)
		} else {
			p, err = e.verify(ctx, raw)
		}
		if err == nil {
			exp := p.ExpiresAt
			if limit := now.Add(v.maxTTL); exp.After(limit) {
				exp = limit
			}
			if v.cache != nil {
				v.cache.put(key, p, exp, now)
			}
			return p, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("verify token: %w", cerr)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// route picks the entries that may verify the token, best first.
func (v *JWTVerifier) route(ctx context.Context, tp tokenPeek, out []*jwtEntry) []*jwtEntry {
	if tp.iss != "" {
		if e, ok := v.byIss[tp.iss]; ok {
			if e.allows(tp.alg) {
				out = append(out, e)
			}
			return out
		}
	}
	// No entry names this iss: the entries without issuer, those whose
	// remote key set already holds the kid first.
	for _, e := range v.issLes {
		if e.allows(tp.alg) && tp.kid != "" && e.remote != nil && e.remote.hasKID(ctx, tp.kid) {
			out = append(out, e)
		}
	}
	for _, e := range v.issLes {
		if e.allows(tp.alg) && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// stringBytes views s as bytes without copying, for hashing only: the
// token is hashed on every request, and a copy would be the only
// allocation of a cache hit. The result must never be written to.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// cacheLen reports the number of cached tokens (tests).
func (v *JWTVerifier) cacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}
