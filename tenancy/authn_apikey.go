package tenancy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// apiKeyLookup is what the API-key authenticator needs from the store.
type apiKeyLookup interface {
	GetAPIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error)
}

// keyToucher receives the keys used, for the asynchronous last-use writer.
type keyToucher interface {
	touch(rec *keyRecord, now time.Time)
}

// APIKeyAuthenticator authenticates API keys (SPEC §6) from the configured
// headers (auth.api_keys.headers, default X-API-Key) or from
// "Authorization: Bearer sk_live_...".
//
// The order of checks is what keeps it cheap and safe: the format and
// checksum first (ParseAPIKey: no allocation, no lookup — a typo or a random
// string never reaches the store); then the record by prefix, from a cache
// (positive entries until a change or KeyTTL, negative ones NegativeTTL;
// concurrent misses of one prefix share one store read); then SHA-256 of the
// presented key compared with the stored hash in constant time; then
// revocation and expiry. The key's org becomes the caller's only org, its
// role the caller's role, its scopes narrow that role's permissions.
//
// Every recognised key that fails a check is ErrInvalidCredentials (401),
// on every route. Two different credentials in one request (a key header
// and another bearer value, or two key headers that differ) are refused
// too: the proxy and an upstream could each pick a different one.
//
// State shared between requests: the key caches (authcache.go); the
// returned Principal is shared by all requests of one key: read-only.
type APIKeyAuthenticator struct {
	headers []string // canonical header names
	store   apiKeyLookup
	caches  *authCaches
	roles   *RolePermissions
	toucher keyToucher
	now     func() time.Time
}

var _ Authenticator = (*APIKeyAuthenticator)(nil)

// Authenticate implements Authenticator.
func (a *APIKeyAuthenticator) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	key, err := a.credential(r)
	if err != nil {
		return nil, err
	}
	return a.verify(ctx, key)
}

// credential finds the one API key of r, or ErrNoCredentials.
func (a *APIKeyAuthenticator) credential(r *http.Request) (string, error) {
	var key string
	found := false
	for _, h := range a.headers {
		vals := r.Header[h]
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 {
			return "", invalidf("%d %s headers", len(vals), h)
		}
		v := strings.Trim(vals[0], " \t")
		if v == "" {
			return "", invalidf("empty %s header", h)
		}
		if found && v != key {
			return "", invalidf("two different API keys")
		}
		key, found = v, true
	}
	bearer, isBearer, err := BearerToken(r)
	switch {
	case found && isBearer:
		// A client that sends its key twice is fine; anything else is
		// two credentials.
		if err != nil || bearer != key {
			return "", invalidf("an API key header and a different Authorization bearer")
		}
		return key, nil
	case found:
		return key, nil
	case !isBearer:
		return "", ErrNoCredentials
	case err != nil:
		// A malformed bearer (empty, padded, repeated) is nobody's valid
		// credential, whatever it was meant to be.
		return "", err
	case strings.HasPrefix(bearer, DefaultAPIKeyBearerPrefix):
		return bearer, nil
	}
	return "", ErrNoCredentials
}

// verify checks key and returns its Principal.
func (a *APIKeyAuthenticator) verify(ctx context.Context, key string) (*Principal, error) {
	prefix, err := ParseAPIKey(key)
	if err != nil {
		return nil, invalidf("api key: %v", err)
	}
	nowT := a.now()
	rec, err := a.lookup(ctx, prefix, nowT)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(stringBytes(key))
	if subtle.ConstantTimeCompare(sum[:], rec.key.Hash) != 1 {
		return nil, invalidf("api key %s: secret does not match", prefix)
	}
	switch {
	case !rec.key.RevokedAt.IsZero():
		return nil, invalidf("api key %s: revoked", prefix)
	case !rec.key.ExpiresAt.IsZero() && !nowT.Before(rec.key.ExpiresAt):
		return nil, invalidf("api key %s: expired", prefix)
	}
	if a.toucher != nil {
		a.toucher.touch(rec, nowT)
	}
	return rec.principal, nil
}

// errUnknownKey is the cause of a key whose prefix the store does not know.
var errUnknownKey = errors.New("unknown api key")

// lookup returns the record of prefix from the cache or the store.
func (a *APIKeyAuthenticator) lookup(ctx context.Context, prefix string, nowT time.Time) (*keyRecord, error) {
	c := a.caches
	now := nowT.UnixNano()
	if rec, ok := c.keys.get(prefix, now); ok {
		return rec, nil
	}
	if _, ok := c.noKeys.get(prefix, now); ok {
		return nil, invalidf("api key %s: %v", prefix, errUnknownKey)
	}
	rec, err := c.keyFlight.do(ctx, prefix, func(ctx context.Context) (*keyRecord, error) {
		epoch := c.epoch.Load()
		// A flight that finished between our miss and this one filled it.
		if rec, ok := c.keys.get(prefix, a.now().UnixNano()); ok {
			return rec, nil
		}
		k, err := a.store.GetAPIKeyByPrefix(ctx, prefix)
		t := a.now()
		if errors.Is(err, ErrNotFound) {
			c.noKeys.put(prefix, struct{}{}, t.UnixNano(), c.expiry(t, c.opts.NegativeTTL), epoch)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up api key: %w", err)
		}
		rec := a.record(k)
		exp := c.expiry(t, c.opts.KeyTTL)
		c.keys.put(prefix, rec, t.UnixNano(), exp, epoch)
		c.keyByID.put(k.ID, rec, t.UnixNano(), exp, epoch)
		return rec, nil
	})
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, invalidf("api key %s: %v", prefix, errUnknownKey)
	}
	return rec, nil
}

// record builds the cached form of k: its shared Principal and effective
// permissions (role cap ∩ scopes).
func (a *APIKeyAuthenticator) record(k APIKey) *keyRecord {
	k.Scopes = cloneStrings(k.Scopes)
	return &keyRecord{
		key: k,
		principal: &Principal{
			Kind:      PrincipalAPIKey,
			Subject:   k.ID,
			UserID:    k.CreatedBy,
			ExpiresAt: k.ExpiresAt,
			Key: &KeyGrant{
				ID:        k.ID,
				OrgID:     k.OrgID,
				ProjectID: k.ProjectID,
				RoleCap:   k.Role,
				Scopes:    k.Scopes,
			},
		},
		perms: a.roles.Effective(k.Role, k.Scopes),
	}
}
