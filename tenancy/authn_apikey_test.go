package tenancy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// replaceSecret returns key with its secret changed and a valid checksum:
// well-formed, same prefix, wrong secret.
func replaceSecret(key string) string {
	body := key[:APIKeyLen-apiKeyChecksumLen]
	last := body[len(body)-1]
	c := byte('A')
	if last == 'A' {
		c = 'B'
	}
	return withChecksum(body[:len(body)-1] + string(c))
}

// TestAPIKeyAuthenticatorHostile: every malformed, unknown, wrong, revoked
// or expired key is an invalid credential (401), and nothing malformed
// reaches the store.
func TestAPIKeyAuthenticatorHostile(t *testing.T) {
	cs := &countingStore{Store: NewMemoryStore()}
	f := newAuthFixture(t, cs)
	good := f.seed.keys["acme-member"]
	unknown, _, _ := GenerateAPIKey()
	jwtTok := f.userToken(t, f.seed.alice, "")

	tests := []struct {
		name    string
		hdrs    map[string][]string
		outcome string // "ok", "invalid", "none"
		lookup  bool   // whether the store may be asked
	}{
		{"X-API-Key", map[string][]string{"X-Api-Key": {good}}, "ok", true},
		{"X-API-Key lower-case name", map[string][]string{"x-api-key": {good}}, "ok", true},
		{"bearer key", map[string][]string{"Authorization": {"Bearer " + good}}, "ok", true},
		{"bearer scheme any case", map[string][]string{"Authorization": {"bEaReR " + good}}, "ok", true},
		{"same key twice (header and bearer)", map[string][]string{"X-Api-Key": {good}, "Authorization": {"Bearer " + good}}, "ok", true},
		{"padded header value", map[string][]string{"X-Api-Key": {"  " + good + "\t"}}, "ok", true},
		{"no credentials", nil, "none", false},
		{"basic auth is not ours", map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, "none", false},
		{"bearer jwt is not ours", map[string][]string{"Authorization": {"Bearer " + jwtTok}}, "none", false},
		{"empty header", map[string][]string{"X-Api-Key": {""}}, "invalid", false},
		{"two header values", map[string][]string{"X-Api-Key": {good, good}}, "invalid", false},
		{"key header and a jwt", map[string][]string{"X-Api-Key": {good}, "Authorization": {"Bearer " + jwtTok}}, "invalid", false},
		{"key header and another key", map[string][]string{"X-Api-Key": {good}, "Authorization": {"Bearer " + f.seed.keys["beta-admin"]}}, "invalid", false},
		{"key header and empty bearer", map[string][]string{"X-Api-Key": {good}, "Authorization": {"Bearer "}}, "invalid", false},
		{"bad checksum", map[string][]string{"X-Api-Key": {good[:len(good)-1] + flip(good[len(good)-1])}}, "invalid", false},
		{"truncated", map[string][]string{"X-Api-Key": {good[:len(good)-1]}}, "invalid", false},
		{"extended", map[string][]string{"X-Api-Key": {good + "0"}}, "invalid", false},
		{"other prefix", map[string][]string{"X-Api-Key": {"sk_test_" + good[len(APIKeyPrefix):]}}, "invalid", false},
		{"bearer sk_ garbage", map[string][]string{"Authorization": {"Bearer sk_live_nope"}}, "invalid", false},
		{"stripe-shaped bearer", map[string][]string{"Authorization": {"Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc"}}, "invalid", false},
		{"inner whitespace", map[string][]string{"X-Api-Key": {good[:20] + " " + good[21:]}}, "invalid", false},
		{"nul byte", map[string][]string{"X-Api-Key": {good[:20] + "\x00" + good[21:]}}, "invalid", false},
		{"huge value", map[string][]string{"X-Api-Key": {strings.Repeat("a", 64<<10)}}, "invalid", false},
		{"wrong secret, valid checksum", map[string][]string{"X-Api-Key": {replaceSecret(good)}}, "invalid", true},
		{"unknown key", map[string][]string{"X-Api-Key": {unknown}}, "invalid", true},
		{"revoked", map[string][]string{"X-Api-Key": {f.seed.keys["acme-revoked"]}}, "invalid", true},
		{"expired", map[string][]string{"X-Api-Key": {f.seed.keys["acme-expired"]}}, "invalid", true},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.stack.InvalidateCaches()
			before := cs.keyLookups.Load()
			p, err := f.stack.chain[0].Authenticate(ctx, request(tc.hdrs))
			switch tc.outcome {
			case "ok":
				require.NoError(t, err)
				require.Equal(t, PrincipalAPIKey, p.Kind)
				assert.Equal(t, f.seed.acme.ID, p.Key.OrgID)
				assert.Equal(t, RoleMember, p.Key.RoleCap)
			case "none":
				require.ErrorIs(t, err, ErrNoCredentials)
			default:
				require.ErrorIs(t, err, ErrInvalidCredentials)
				require.Nil(t, p)
			}
			if !tc.lookup {
				assert.Equal(t, before, cs.keyLookups.Load(), "must be refused before any lookup")
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestAPIKeyHeadersConfigured: auth.api_keys.headers replaces X-API-Key;
// the bearer form always works.
func TestAPIKeyHeadersConfigured(t *testing.T) {
	f := newAuthFixture(t, NewMemoryStore(), func(o *AuthStackOptions) {
		o.Config.Auth.APIKeys.Headers = []string{"X-Custom-Key"}
	})
	good := f.seed.keys["acme-member"]
	ctx := context.Background()
	_, err := f.stack.Authenticate(ctx, request(map[string][]string{"X-Custom-Key": {good}}), config.AuthRequired)
	require.NoError(t, err)
	_, err = f.stack.Authenticate(ctx, request(map[string][]string{"Authorization": {"Bearer " + good}}), config.AuthRequired)
	require.NoError(t, err)
	_, err = f.stack.Authenticate(ctx, request(map[string][]string{"X-Api-Key": {good}}), config.AuthRequired)
	require.ErrorIs(t, err, ErrAuthRequired, "X-API-Key is no longer a key header")
}

// TestAPIKeyCacheAndCoalescing: a burst of first requests with one key
// reads the store once; later requests read the cache.
func TestAPIKeyCacheAndCoalescing(t *testing.T) {
	cs := &countingStore{Store: NewMemoryStore()}
	f := newAuthFixture(t, cs)
	good := f.seed.keys["acme-member"]
	hold := make(chan struct{})
	cs.mu.Lock()
	cs.holdKey, cs.heldReading = hold, make(chan struct{}, 64)
	cs.mu.Unlock()
	before := cs.keyLookups.Load()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := f.stack.Authenticate(context.Background(), request(map[string][]string{"X-Api-Key": {good}}), config.AuthRequired)
			assert.NoError(t, err)
		})
	}
	<-cs.heldReading // one read is in flight; the others join it or find the cache
	close(hold)
	wg.Wait()
	assert.Equal(t, before+1, cs.keyLookups.Load(), "one store read for the burst")
	for range 100 {
		_, err := f.stack.Authenticate(context.Background(), request(map[string][]string{"X-Api-Key": {good}}), config.AuthRequired)
		require.NoError(t, err)
	}
	assert.Equal(t, before+1, cs.keyLookups.Load(), "cached: no further lookups")
}

// TestAPIKeyNegativeCache: an unknown key is remembered briefly (a flood
// of one unknown key does not reach the store), and a key created later
// works within NegativeTTL — at once where creations are announced.
func TestAPIKeyNegativeCache(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		cs := &countingStore{Store: s}
		f := newAuthFixture(t, cs, func(o *AuthStackOptions) { o.Cache.NegativeTTL = 500 * time.Millisecond })
		ctx := context.Background()
		plain, prefix, hash := GenerateAPIKey()
		req := func() error {
			_, err := f.stack.Authenticate(ctx, request(map[string][]string{"X-Api-Key": {plain}}), config.AuthRequired)
			return err
		}
		before := cs.keyLookups.Load()
		for range 20 {
			require.ErrorIs(t, req(), ErrInvalidCredentials)
		}
		assert.Equal(t, before+1, cs.keyLookups.Load(), "one lookup for 20 requests")
		_, err := s.CreateAPIKey(ctx, APIKey{OrgID: f.seed.acme.ID, Name: "new", Prefix: prefix, Hash: hash, Role: RoleViewer})
		require.NoError(t, err)
		// The fixture clock does not move: PostgreSQL's creation notice
		// clears the negative entry; the memory store announces no
		// creations, so move past NegativeTTL there.
		if _, isMem := s.(*MemoryStore); isMem {
			f.clock.Advance(time.Second)
		}
		require.Eventually(t, func() bool { return req() == nil }, time.Second, 5*time.Millisecond)
	})
}

// TestAPIKeyLastUsed: uses are written asynchronously, coalesced per key,
// and flushed by Close.
func TestAPIKeyLastUsed(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		cs := &countingStore{Store: s}
		f := newAuthFixture(t, cs, func(o *AuthStackOptions) { o.LastUsed.FlushInterval = time.Hour })
		ctx := context.Background()
		for _, name := range []string{"acme-member", "acme-member", "acme-read", "acme-member", "beta-admin"} {
			_, err := f.stack.Authenticate(ctx, request(map[string][]string{"X-Api-Key": {f.seed.keys[name]}}), config.AuthRequired)
			require.NoError(t, err)
		}
		assert.Zero(t, cs.touches.Load(), "nothing written on the request path")
		require.NoError(t, f.stack.Close(ctx))
		require.Equal(t, int64(1), cs.touches.Load(), "one batched write at Close")
		cs.mu.Lock()
		assert.ElementsMatch(t, []string{f.seed.keyIDs["acme-member"], f.seed.keyIDs["acme-read"], f.seed.keyIDs["beta-admin"]}, cs.touched[0])
		cs.mu.Unlock()
		k, err := s.GetAPIKey(ctx, f.seed.acme.ID, f.seed.keyIDs["acme-member"])
		require.NoError(t, err)
		assert.False(t, k.LastUsedAt.IsZero())
		k, err = s.GetAPIKey(ctx, f.seed.acme.ID, f.seed.keyIDs["acme-web"])
		require.NoError(t, err)
		assert.True(t, k.LastUsedAt.IsZero(), "unused key untouched")
	})
}

// blockingToucher holds TouchAPIKeys until released.
type blockingToucher struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingToucher) TouchAPIKeys(ctx context.Context, _ []string, _ time.Time) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

// TestLastUsedWriterNeverBlocks: with the writer stuck on a slow database,
// uses beyond the bounded queue are dropped and counted; touch returns.
func TestLastUsedWriterNeverBlocks(t *testing.T) {
	bt := &blockingToucher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	clock := &testClock{t: time.Now()}
	w := newLastUsedWriter(bt, LastUsedOptions{FlushInterval: time.Millisecond, QueueSize: 4}, clock.Now, zap.NewNop())
	rec := func(id string) *keyRecord { return &keyRecord{key: APIKey{ID: id}} }
	w.touch(rec("first"), clock.Now())
	<-bt.entered // the writer is now stuck in a write
	for i := range 100 {
		w.touch(rec(string(rune('a'+i%26))+strings.Repeat("x", i)), clock.Now())
	}
	assert.Equal(t, uint64(100-4), w.dropped.Load())
	close(bt.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, w.close(ctx))
}

// TestLastUsedCoalescesPerInterval: one key used continuously is queued
// once per flush interval.
func TestLastUsedCoalescesPerInterval(t *testing.T) {
	bt := &blockingToucher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	close(bt.release)
	clock := &testClock{t: time.Now()}
	w := newLastUsedWriter(bt, LastUsedOptions{FlushInterval: time.Hour, QueueSize: 100}, clock.Now, zap.NewNop())
	r := &keyRecord{key: APIKey{ID: "k"}}
	for range 1000 {
		w.touch(r, clock.Now())
	}
	assert.Equal(t, uint64(1), w.queued.Load())
	clock.Advance(time.Hour)
	w.touch(r, clock.Now())
	assert.Equal(t, uint64(2), w.queued.Load())
	require.NoError(t, w.close(context.Background()))
}

// FuzzAPIKeyCredential: whatever the key header and Authorization carry,
// the API-key authenticator answers "no credentials", "invalid" or the
// principal of the exact key presented — never another key's, never a
// panic.
func FuzzAPIKeyCredential(f *testing.F) {
	fx := newAuthFixture(f, NewMemoryStore())
	good := fx.seed.keys["acme-member"]
	for _, seed := range [][2]string{
		{good, ""}, {"", "Bearer " + good}, {good, "Bearer " + good}, {good, "Basic x"},
		{good[:len(good)-1], ""}, {"", "Bearer sk_"}, {"", "Bearer "}, {"", "bearer  " + good},
		{replaceSecret(good), ""}, {"sk_live_", ""}, {"\x00", "Bearer \xff"}, {good + good, ""},
	} {
		f.Add(seed[0], seed[1])
	}
	keysByPlain := map[string]string{}
	for name, k := range fx.seed.keys {
		keysByPlain[k] = fx.seed.keyIDs[name]
	}
	auth := fx.stack.chain[0]
	f.Fuzz(func(t *testing.T, keyHdr, authz string) {
		hdrs := map[string][]string{}
		if keyHdr != "" {
			hdrs["X-Api-Key"] = []string{keyHdr}
		}
		if authz != "" {
			hdrs["Authorization"] = []string{authz}
		}
		p, err := auth.Authenticate(context.Background(), request(hdrs))
		switch {
		case err == nil:
			require.NotNil(t, p)
			require.Equal(t, PrincipalAPIKey, p.Kind)
			presented := strings.Trim(keyHdr, " \t")
			if presented == "" {
				presented, _, _ = strings.Cut(strings.TrimLeft(authz[len("bearer"):], " \t"), " ")
				presented = strings.Trim(presented, " \t")
			}
			require.Equal(t, keysByPlain[presented], p.Key.ID, "the principal is the presented key's")
			require.NotEqual(t, fx.seed.keyIDs["acme-revoked"], p.Key.ID)
			require.NotEqual(t, fx.seed.keyIDs["acme-expired"], p.Key.ID)
		case errors.Is(err, ErrNoCredentials):
			require.Nil(t, p)
		default:
			require.ErrorIs(t, err, ErrInvalidCredentials)
			require.Nil(t, p)
		}
	})
}
