package tenancy

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/7cycles-ai/strangler/config"
	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func remoteEntry(url string) config.JWTIssuer {
	return config.JWTIssuer{Name: "remote", Issuer: remoteIss, Audiences: []string{"authenticated"},
		Algorithms: []string{"ES256", "RS256"}, JWKSURL: url}
}

func TestJWKSRefreshOnUnknownKID(t *testing.T) {
	srv := newJWKSServer(t)
	a, b := loadKey(t, "ec_p256_a.pem"), loadKey(t, "ec_p256_b.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	v := newTestVerifier(t, newTestClock(), nil, remoteEntry(srv.url()))
	require.EqualValues(t, 1, srv.hits.Load(), "fetched once at start")

	// The issuer rotates: key b appears, and the first token signed with it
	// makes the verifier refetch.
	srv.setKeys(t, map[string]crypto.Signer{"a": a, "b": b})
	p, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, b, "b", claimsFor(remoteIss)))
	require.NoError(t, err)
	assert.Equal(t, "remote", p.Issuer)
	assert.EqualValues(t, 2, srv.hits.Load())

	_, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.NoError(t, err)
	assert.EqualValues(t, 2, srv.hits.Load(), "known kids cost no request")
}

func TestJWKSKeyRemovedStopsVerifying(t *testing.T) {
	srv := newJWKSServer(t)
	a, b := loadKey(t, "ec_p256_a.pem"), loadKey(t, "ec_p256_b.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a, "b": b})
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) {
		o.JWKS.RefreshInterval = 20 * time.Millisecond
	}, remoteEntry(srv.url()))

	tok := signToken(t, jwt.SigningMethodES256, b, "b", claimsFor(remoteIss))
	p1, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	p2, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Same(t, p1, p2, "cached")

	// The issuer withdraws key b (compromised). The background refresh sees
	// it gone; the cached verification is dropped with it, although the
	// token's exp is an hour away.
	hits := srv.hits.Load()
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	require.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), tok)
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)
	assert.Greater(t, srv.hits.Load(), hits, "a refresh happened")
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrInvalidCredentials)

	// Key a still works.
	_, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.NoError(t, err)
}

// floodRandomKIDs verifies n tokens with random kids from conc goroutines,
// each under its own context with deadline; it returns how many
// verifications were still running when their context ended.
func floodRandomKIDs(t *testing.T, v *JWTVerifier, key crypto.Signer, n, conc int, deadline time.Duration) (hitDeadline int) {
	t.Helper()
	toks := make([]string, n)
	for i := range toks {
		toks[i] = signToken(t, jwt.SigningMethodES256, key, fmt.Sprintf("random-%d-%x", i, i*7919), claimsFor(remoteIss))
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan string)
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range next {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				p, err := v.Verify(ctx, tok)
				late := ctx.Err() != nil
				cancel()
				mu.Lock()
				if late {
					hitDeadline++
				}
				mu.Unlock()
				assert.Nil(t, p)
				assert.Error(t, err)
			}
		}()
	}
	for _, tok := range toks {
		next <- tok
	}
	close(next)
	wg.Wait()
	return hitDeadline
}

func TestJWKSRandomKIDFloodIsBounded(t *testing.T) {
	srv := newJWKSServer(t)
	a := loadKey(t, "ec_p256_a.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) {
		o.JWKS.UnknownKIDInterval = time.Hour // the limiter never refills during the test
	}, remoteEntry(srv.url()))

	late := floodRandomKIDs(t, v, a, 1000, 16, 10*time.Second)
	assert.Zero(t, late, "no verification waited until its deadline")
	assert.LessOrEqual(t, srv.hits.Load(), int64(2), "start + at most one unknown-kid refetch")

	// Legitimate traffic is unaffected.
	_, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.NoError(t, err)
	assert.LessOrEqual(t, srv.hits.Load(), int64(2))
}

// The issuer's endpoint hangs: the one verification that refetches is cut
// by WaitMax (well before its own deadline) and the others do not queue
// behind it.
func TestJWKSStalledEndpointBoundedByWaitMax(t *testing.T) {
	srv := newJWKSServer(t)
	a := loadKey(t, "ec_p256_a.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	srv.stalled.Store(true)
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) {
		o.JWKS.UnknownKIDInterval = time.Hour
		o.JWKS.WaitMax = 300 * time.Millisecond
	}, remoteEntry(srv.url()))

	late := floodRandomKIDs(t, v, a, 200, 8, time.Minute)
	assert.Zero(t, late, "every verification returned before its deadline, the refetching one included")
	assert.LessOrEqual(t, srv.hits.Load(), int64(2))

	_, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.NoError(t, err, "known keys keep working while the endpoint hangs")
}

// With a generous WaitMax the request's own context still bounds the wait.
func TestJWKSStalledEndpointBoundedByRequestContext(t *testing.T) {
	srv := newJWKSServer(t)
	a := loadKey(t, "ec_p256_a.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	srv.stalled.Store(true)
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) {
		o.JWKS.WaitMax = time.Hour
	}, remoteEntry(srv.url()))

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, signToken(t, jwt.SigningMethodES256, a, "unknown", claimsFor(remoteIss)))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 2, srv.hits.Load())
}

func TestJWKSDocumentSizeIsCapped(t *testing.T) {
	srv := newJWKSServer(t)
	a := loadKey(t, "ec_p256_a.pem")
	srv.setKeys(t, map[string]crypto.Signer{"a": a})
	v := newTestVerifier(t, newTestClock(), func(o *JWTVerifierOptions) {
		o.JWKS.MaxBodyBytes = 64
	}, remoteEntry(srv.url()))
	_, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.ErrorIs(t, err, ErrInvalidCredentials, "a set over the cap is not loaded")
}

func TestJWKSEncryptionKeysDoNotVerify(t *testing.T) {
	srv := newJWKSServer(t)
	a := loadKey(t, "ec_p256_a.pem")
	j, err := jwkset.NewJWKFromKey(a.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "a", USE: jwkset.UseEnc}})
	require.NoError(t, err)
	srv.mu.Lock()
	srv.keys = []jwkset.JWKMarshal{j.Marshal()}
	srv.mu.Unlock()
	v := newTestVerifier(t, newTestClock(), nil, remoteEntry(srv.url()))
	_, err = v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, a, "a", claimsFor(remoteIss)))
	require.ErrorIs(t, err, ErrInvalidCredentials)
}

func TestJWKSIssuerDownAtStart(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	v := newTestVerifier(t, newTestClock(), nil, remoteEntry(down.URL))
	_, err := v.Verify(context.Background(), signToken(t, jwt.SigningMethodES256, loadKey(t, "ec_p256_a.pem"), "a", claimsFor(remoteIss)))
	require.ErrorIs(t, err, ErrInvalidCredentials, "start succeeds, tokens fail until the keys can be fetched")

	_, err = NewJWTVerifier(context.Background(), JWTVerifierOptions{Issuers: []config.JWTIssuer{remoteEntry("ftp://x/jwks")}})
	require.ErrorContains(t, err, "not an http(s) URL")
}
