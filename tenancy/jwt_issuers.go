package tenancy

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/7cycles-ai/strangler/config"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// AccessTokenAudience is the aud of the built-in issuer's access tokens —
// the same as Supabase's, so a client or service that understands Supabase
// tokens understands ours. Assertions use AssertionAudience instead, so an
// assertion can never be replayed as an access token.
const AccessTokenAudience = "authenticated"

// minRSABits refuses toy RSA keys from a JWK Set.
const minRSABits = 2048

// hmacMinKey is RFC 7518 §3.2: an HMAC key at least as long as the hash.
var hmacMinKey = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// asymmetricAlgs are the public-key algorithms golang-jwt implements.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// jwtEntry is one trusted issuer, compiled from its configuration: its own
// parser (its algorithm allow-list, audiences and issuer), its key source
// and its claim paths.
type jwtEntry struct {
	name    string
	iss     string // "" accepts tokens without iss (matched by kid/alg)
	builtin bool
	typ     string // required typ header; "" accepts any
	algs    []string
	parser  *jwt.Parser
	claims  claimMap

	secret []byte      // HS*
	remote *remoteJWKS // asymmetric, external
	signer *Signer     // asymmetric, built-in (in process, no HTTP)
}

func (e *jwtEntry) allows(alg string) bool { return slices.Contains(e.algs, alg) }

func newJWTParser(iss string, algs, audiences []string, opts JWTVerifierOptions) *jwt.Parser {
	po := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(JWTLeeway),
		jwt.WithAudience(audiences...),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(opts.Now),
	}
	if iss != "" {
		po = append(po, jwt.WithIssuer(iss))
	}
	return jwt.NewParser(po...)
}

// compileIssuer validates one auth.jwt entry and builds it. Every problem is
// reported, each with its YAML path.
func compileIssuer(ctx context.Context, i int, c config.JWTIssuer, opts JWTVerifierOptions, onRemoved func(), log *zap.Logger) (*jwtEntry, error) {
	path := fmt.Sprintf("auth.jwt[%d]", i)
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{path, field}, args...)...))
	}
	if c.Name == "" {
		bad("name", "required")
	} else if c.Name == BuiltinIssuerName {
		bad("name", "%q is reserved for the built-in issuer", c.Name)
	}
	if len(c.Audiences) == 0 {
		bad("audiences", "required: tokens for any audience would be accepted")
	}
	if len(c.Algorithms) == 0 {
		bad("algorithms", "required: the allow-list is never inferred from the token")
	}
	needJWKS := false
	for _, a := range c.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			bad("algorithms", "%q is never allowed", a)
		case hmacMinKey[a] > 0:
			if c.Secret == "" {
				bad("secret", "required for %s", a)
			} else if len(c.Secret) < hmacMinKey[a] {
				bad("secret", "shorter than %d bytes, too weak for %s (RFC 7518 §3.2)", hmacMinKey[a], a)
			}
		case slices.Contains(asymmetricAlgs, a):
			needJWKS = true
		default:
			bad("algorithms", "unknown algorithm %q", a)
		}
	}
	if needJWKS && c.JWKSURL == "" {
		bad("jwks_url", "required for asymmetric algorithms")
	}
	cm, err := compileClaimMap(path, claimsSpec(c.Claims))
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e := &jwtEntry{
		name:   c.Name,
		iss:    c.Issuer,
		algs:   slices.Clone(c.Algorithms),
		parser: newJWTParser(c.Issuer, c.Algorithms, c.Audiences, opts),
		claims: cm,
	}
	if c.Secret != "" {
		e.secret = []byte(c.Secret)
	}
	if needJWKS {
		e.remote, err = newRemoteJWKS(ctx, c.JWKSURL, opts.JWKS, onRemoved, log.With(zap.String("issuer", c.Name)))
		if err != nil {
			return nil, fmt.Errorf("%s.jwks_url: %w", path, err)
		}
	}
	return e, nil
}

// builtinEntry verifies the built-in issuer's access tokens with the
// signer's public keys, in process.
func builtinEntry(s *Signer, opts JWTVerifierOptions) *jwtEntry {
	algs := signerAlgorithms()
	return &jwtEntry{
		name:    BuiltinIssuerName,
		iss:     s.Issuer(),
		builtin: true,
		typ:     accessTokenType,
		algs:    algs,
		parser:  newJWTParser(s.Issuer(), algs, []string{AccessTokenAudience}, opts),
		claims: claimMap{
			subject: claimPath{"sub"},
			email:   claimPath{"email"},
			org:     claimPath{builtinOrgClaim},
			project: claimPath{builtinProjectClaim},
		},
		signer: s,
	}
}

// keyFor is the jwt.Keyfunc of the entry. The key returned always belongs
// to the token's algorithm family: HMAC only from the configured secret
// (never from a JWK Set), public keys only of the matching type and curve.
// That is what defeats "HS256 signed with the RSA public key".
func (e *jwtEntry) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !e.allows(alg) {
		return nil, fmt.Errorf("algorithm %q not allowed", alg)
	}
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		if e.secret == nil {
			return nil, fmt.Errorf("no secret for %s", alg)
		}
		return e.secret, nil
	}
	kid := ""
	if v, present := t.Header["kid"]; present {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("kid is not a string")
		}
		kid = s
	}
	switch {
	case e.signer != nil:
		pub, keyAlg, ok := e.signer.publicKey(kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %.64q", kid)
		}
		if keyAlg != alg {
			return nil, fmt.Errorf("kid %.64q is a %s key, token says %s", kid, keyAlg, alg)
		}
		return pub, nil
	case e.remote != nil:
		k, err := e.remote.kf.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, err
		}
		if set, ok := k.(jwt.VerificationKeySet); ok {
			// A token without kid is tried against every key of its family
			// (bounded: a big set must not multiply the cost of junk tokens).
			var fit jwt.VerificationKeySet
			for _, key := range set.Keys {
				if keyFits(t.Method, key) == nil && len(fit.Keys) < maxKeysWithoutKID {
					fit.Keys = append(fit.Keys, key)
				}
			}
			if len(fit.Keys) == 0 {
				return nil, fmt.Errorf("no %s key in the JWK Set", alg)
			}
			return fit, nil
		}
		if err := keyFits(t.Method, k); err != nil {
			return nil, fmt.Errorf("kid %.64q: %w", kid, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("no key source for %s", alg)
}

// maxKeysWithoutKID bounds the verifications of a token without kid.
const maxKeysWithoutKID = 8

// keyFits checks that key is a public key of the method's family (and
// curve, and size).
func keyFits(m jwt.SigningMethod, key any) error {
	switch m := m.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, have %T", m.Alg(), key)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too small", k.N.BitLen())
		}
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an EC key, have %T", m.Alg(), key)
		}
		if k.Curve == nil || k.Curve.Params().BitSize != m.CurveBits {
			return fmt.Errorf("%s needs a %d-bit curve", m.Alg(), m.CurveBits)
		}
	case *jwt.SigningMethodEd25519:
		if _, ok := key.(ed25519.PublicKey); !ok {
			return fmt.Errorf("EdDSA needs an Ed25519 key, have %T", key)
		}
	default:
		return fmt.Errorf("algorithm %s has no public key", m.Alg())
	}
	return nil
}

// verify runs the entry's parser (signature, exp/nbf/iat with leeway, aud,
// iss) and maps the claims.
func (e *jwtEntry) verify(ctx context.Context, raw string) (*Principal, error) {
	claims := jwt.MapClaims{}
	_, err := e.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return e.keyFor(ctx, t) })
	if err != nil {
		return nil, fmt.Errorf("%w: issuer %s: %w", ErrInvalidCredentials, e.name, err)
	}
	p, err := principalFromClaims(claims, e.claims, e.name, e.builtin)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", e.name, err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, invalidf("issuer %s: no usable exp", e.name)
	}
	p.ExpiresAt = exp.Time
	return p, nil
}
