package tenancy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/7cycles-ai/strangler/config"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// accessTokenType is the typ header of the built-in issuer's access tokens
// (RFC 9068). The built-in verifier entry accepts nothing else, so another
// kind of token signed with the same key can never pass as an access token.
const accessTokenType = "at+jwt"

// Claim names of the built-in issuer's access tokens, beside the
// registered ones and Supabase's role.
const (
	builtinOrgClaim     = "org_id"
	builtinProjectClaim = "project_id"
)

// DefaultAccessTTL is the access-token lifetime when the configuration sets
// none.
const DefaultAccessTTL = 15 * time.Minute

// SignerOptions configure a Signer.
type SignerOptions struct {
	// Issuer is the iss of every token signed (config auth.issuer.issuer).
	Issuer string
	// AccessTTL is the access-token lifetime. Default DefaultAccessTTL.
	AccessTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives warnings about the key material. Default: none.
	Logger *zap.Logger
}

// Signer holds the built-in issuer's signing keys: the active key (which
// signs) and previous keys (which only verify, and are published in the JWK
// Set until every token they signed has expired). It signs access tokens
// and tenant assertions and serves /.well-known/jwks.json.
//
// Reads (signing, key lookup, JWKS) take no lock: they load an immutable
// snapshot. Rotate swaps the snapshot.
type Signer struct {
	issuer    string
	accessTTL time.Duration
	retain    time.Duration
	now       func() time.Time
	log       *zap.Logger

	mu    sync.Mutex // serialises Rotate and pruning
	state atomic.Pointer[signerState]
}

type signerState struct {
	active *signingKey
	keys   []*signingKey // active first, then previous ones
	jwks   []byte
	// nextRetire is the earliest retireAt among previous keys; zero: none.
	nextRetire time.Time
}

type signingKey struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer // nil for previous keys given as public keys
	pub    crypto.PublicKey
	jwk    map[string]string
	// retireAt: the key leaves the set (zero: stays while configured).
	retireAt time.Time
	// headers are the base64url-encoded JWS headers by typ, precomputed.
	headers map[string]string
}

// NewSigner builds the signer of the built-in issuer from its configuration:
// the keys of signing_key_file, or — when it is empty — a fresh ECDSA P-256
// key, which only suits the demo: tokens die with the process and replicas
// cannot verify each other's tokens (a warning is logged).
//
// signing_key_file holds PEM blocks: the first is the active private key
// (PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY"; Ed25519 or ECDSA P-256);
// any further blocks (private or "PUBLIC KEY") are previous keys, published
// for verification only. To rotate across replicas: put the new key first,
// keep the old one after it for at least access_ttl, then remove it.
func NewSigner(cfg config.Issuer, now func() time.Time, log *zap.Logger) (*Signer, error) {
	opts := SignerOptions{Issuer: cfg.Issuer, AccessTTL: cfg.AccessTTL.D(), Now: now, Logger: log}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if cfg.SigningKeyFile == "" {
		key, err := GenerateSigningKey()
		if err != nil {
			return nil, err
		}
		opts.Logger.Warn("auth.issuer.signing_key_file is empty: generated an ephemeral signing key; " +
			"tokens will not survive a restart and other replicas cannot verify them (demo only)")
		return NewSignerWithKeys(opts, key)
	}
	fi, err := os.Stat(cfg.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("auth.issuer.signing_key_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		opts.Logger.Warn("auth.issuer.signing_key_file is readable by group or others",
			zap.String("file", cfg.SigningKeyFile), zap.String("mode", fi.Mode().Perm().String()))
	}
	data, err := os.ReadFile(cfg.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("auth.issuer.signing_key_file: %w", err)
	}
	active, previous, err := ParseSigningKeys(data)
	if err != nil {
		return nil, fmt.Errorf("auth.issuer.signing_key_file %s: %w", cfg.SigningKeyFile, err)
	}
	return NewSignerWithKeys(opts, active, previous...)
}

// NewSignerWithKeys builds a signer from keys in memory. previous keys are
// published and verify tokens until the signer is rebuilt without them.
func NewSignerWithKeys(opts SignerOptions, active crypto.Signer, previous ...crypto.PublicKey) (*Signer, error) {
	if opts.Issuer == "" {
		return nil, errors.New("auth.issuer.issuer: required")
	}
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	s := &Signer{
		issuer:    opts.Issuer,
		accessTTL: opts.AccessTTL,
		retain:    max(opts.AccessTTL, AssertionTTL) + JWTLeeway,
		now:       opts.Now,
		log:       opts.Logger,
	}
	ak, err := newSigningKey(active, active.Public())
	if err != nil {
		return nil, fmt.Errorf("active signing key: %w", err)
	}
	keys := []*signingKey{ak}
	for i, p := range previous {
		pk, err := newSigningKey(nil, p)
		if err != nil {
			return nil, fmt.Errorf("previous signing key %d: %w", i+1, err)
		}
		if pk.kid == ak.kid {
			continue
		}
		keys = append(keys, pk)
	}
	s.state.Store(buildSignerState(keys))
	return s, nil
}

// GenerateSigningKey returns a fresh ECDSA P-256 key (ES256): the algorithm
// every JWT library (PyJWT, jose, Supabase's) verifies.
func GenerateSigningKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return k, nil
}

// ParseSigningKeys reads PEM blocks: the first a private key (the active
// one), the rest private or public keys (previous ones). Only Ed25519 and
// ECDSA P-256 are accepted.
func ParseSigningKeys(data []byte) (active crypto.Signer, previous []crypto.PublicKey, err error) {
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var key any
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "PUBLIC KEY":
			if n == 1 {
				return nil, nil, errors.New("the first PEM block must be a private key")
			}
			key, err = x509.ParsePKIXPublicKey(b.Bytes)
		default:
			return nil, nil, fmt.Errorf("PEM block %d: type %q not supported", n, b.Type)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		if n == 1 {
			signer, ok := key.(crypto.Signer)
			if !ok {
				return nil, nil, fmt.Errorf("PEM block 1: %T cannot sign", key)
			}
			if _, _, err := keyAlgorithm(signer.Public()); err != nil {
				return nil, nil, fmt.Errorf("PEM block 1: %w", err)
			}
			active = signer
			continue
		}
		if signer, ok := key.(crypto.Signer); ok {
			key = signer.Public()
		}
		if _, _, err := keyAlgorithm(key); err != nil {
			return nil, nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		previous = append(previous, key)
	}
	if active == nil {
		return nil, nil, errors.New("no PEM private key found")
	}
	return active, previous, nil
}

// keyAlgorithm maps a public key to its JWS algorithm.
func keyAlgorithm(pub any) (string, jwt.SigningMethod, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("ECDSA curve %s not supported (P-256 only)", k.Curve.Params().Name)
		}
		return "ES256", jwt.SigningMethodES256, nil
	case ed25519.PublicKey:
		return "EdDSA", jwt.SigningMethodEdDSA, nil
	default:
		return "", nil, fmt.Errorf("%T not supported (Ed25519 or ECDSA P-256)", pub)
	}
}

// signerAlgorithms is the allow-list of the built-in verifier entry.
func signerAlgorithms() []string { return []string{"ES256", "EdDSA"} }

func newSigningKey(priv crypto.Signer, pub crypto.PublicKey) (*signingKey, error) {
	alg, method, err := keyAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWK(pub)
	if err != nil {
		return nil, err
	}
	k := &signingKey{alg: alg, method: method, priv: priv, pub: pub, jwk: jwk}
	k.kid = jwkThumbprint(jwk)
	jwk["kid"], jwk["use"], jwk["alg"] = k.kid, "sig", alg
	k.headers = make(map[string]string, 2)
	for _, typ := range []string{accessTokenType, assertionType} {
		h, _ := json.Marshal(struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Typ string `json:"typ"`
		}{alg, k.kid, typ})
		k.headers[typ] = base64.RawURLEncoding.EncodeToString(h)
	}
	return k, nil
}

// publicJWK returns the members of the public JWK that RFC 7638 hashes.
func publicJWK(pub crypto.PublicKey) (map[string]string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("ecdsa key: %w", err)
		}
		pt := e.Bytes() // 0x04 || X || Y, fixed width
		n := (len(pt) - 1) / 2
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pt[1 : 1+n]), "y": b64(pt[1+n:])}, nil
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}, nil
	}
	return nil, fmt.Errorf("%T not supported", pub)
}

// jwkThumbprint is the RFC 7638 thumbprint (SHA-256, base64url) of the
// required members, in lexicographic order without whitespace.
func jwkThumbprint(jwk map[string]string) string {
	var canon string
	if jwk["kty"] == "EC" {
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, jwk["crv"], jwk["x"], jwk["y"])
	} else {
		canon = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, jwk["crv"], jwk["x"])
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func buildSignerState(keys []*signingKey) *signerState {
	st := &signerState{active: keys[0], keys: keys}
	doc := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: make([]map[string]string, 0, len(keys))}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.jwk)
		if !k.retireAt.IsZero() && (st.nextRetire.IsZero() || k.retireAt.Before(st.nextRetire)) {
			st.nextRetire = k.retireAt
		}
	}
	st.jwks, _ = json.Marshal(doc)
	return st
}

// current returns the snapshot, first dropping previous keys whose tokens
// have all expired.
func (s *Signer) current() *signerState {
	st := s.state.Load()
	if st.nextRetire.IsZero() || s.now().Before(st.nextRetire) {
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st = s.state.Load()
	now := s.now()
	if st.nextRetire.IsZero() || now.Before(st.nextRetire) {
		return st
	}
	keep := make([]*signingKey, 0, len(st.keys))
	for _, k := range st.keys {
		if k.retireAt.IsZero() || now.Before(k.retireAt) {
			keep = append(keep, k)
		}
	}
	st = buildSignerState(keep)
	s.state.Store(st)
	return st
}

// Rotate makes key the active signing key. The previous active key keeps
// verifying — and stays in the JWK Set — until every token it signed has
// expired (access TTL, assertion TTL, plus leeway).
func (s *Signer) Rotate(key crypto.Signer) error {
	nk, err := newSigningKey(key, key.Public())
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	retire := s.now().Add(s.retain)
	keys := []*signingKey{nk}
	for _, k := range old.keys {
		if k.kid == nk.kid {
			continue
		}
		if k == old.active {
			prev := *k
			prev.priv = nil
			prev.retireAt = retire
			k = &prev
		}
		keys = append(keys, k)
	}
	s.state.Store(buildSignerState(keys))
	s.log.Info("built-in issuer signing key rotated", zap.String("kid", nk.kid), zap.String("previous_kid", old.active.kid))
	return nil
}

// Issuer is the iss of the signer's tokens.
func (s *Signer) Issuer() string { return s.issuer }

// AccessTTL is the lifetime of access tokens.
func (s *Signer) AccessTTL() time.Duration { return s.accessTTL }

// ActiveKID is the kid of the key that signs now.
func (s *Signer) ActiveKID() string { return s.state.Load().active.kid }

// JWKS returns the JWK Set document (public keys only, with kid, use: sig
// and alg) to serve at /.well-known/jwks.json. The slice is shared: do not
// modify it.
func (s *Signer) JWKS() []byte { return s.current().jwks }

// JWKSHandler serves JWKS(). Caches may keep it five minutes: a verifier
// that meets a newer kid refetches (keyfunc refreshes on unknown kid).
func (s *Signer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		doc := s.JWKS()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}

// publicKey finds a key that may verify tokens: the active key or a
// previous key not yet retired.
func (s *Signer) publicKey(kid string) (crypto.PublicKey, string, bool) {
	for _, k := range s.current().keys {
		if k.kid == kid {
			return k.pub, k.alg, true
		}
	}
	return nil, "", false
}

// AccessTokenClaims are the facts an access token carries.
type AccessTokenClaims struct {
	// UserID becomes sub.
	UserID string
	// SessionID becomes sid: the refresh-token family, so logout can refuse
	// the session's access tokens.
	SessionID string
	// Email, OrgID and ProjectID are optional.
	Email     string
	OrgID     string
	ProjectID string
}

type accessTokenJSON struct {
	Iss       string `json:"iss"`
	Sub       string `json:"sub"`
	Aud       string `json:"aud"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Jti       string `json:"jti"`
	Sid       string `json:"sid,omitempty"`
	Email     string `json:"email,omitempty"`
	OrgID     string `json:"org_id,omitempty"`
	ProjectID string `json:"project_id,omitempty"`
	// Role mirrors Supabase's, so code written for Supabase tokens reads
	// ours unchanged.
	Role string `json:"role"`
}

// SignAccessToken signs an access token: iss, sub (user ID), aud
// AccessTokenAudience, iat, exp (now + access TTL), a random jti, sid, and
// the optional email/org_id/project_id. It returns the token and its
// expiry (for expires_in).
func (s *Signer) SignAccessToken(c AccessTokenClaims) (string, time.Time, error) {
	if c.UserID == "" {
		return "", time.Time{}, errors.New("sign access token: no user id")
	}
	now := s.now()
	exp := now.Add(s.accessTTL)
	tok, err := s.current().active.sign(accessTokenType, accessTokenJSON{
		Iss: s.issuer, Sub: c.UserID, Aud: AccessTokenAudience,
		Exp: exp.Unix(), Iat: now.Unix(), Jti: uuid.NewString(),
		Sid: c.SessionID, Email: c.Email, OrgID: c.OrgID, ProjectID: c.ProjectID,
		Role: "authenticated",
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return tok, time.Unix(exp.Unix(), 0), nil
}

// sign produces header.payload.signature with the precomputed header.
func (k *signingKey) sign(typ string, claims any) (string, error) {
	if k.priv == nil {
		return "", errors.New("key cannot sign")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	h := k.headers[typ]
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(h)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(132))
	buf = append(buf, h...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var signKey any = k.priv
	sig, err := k.method.Sign(string(buf), signKey)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}
