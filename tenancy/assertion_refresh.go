package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// RefreshAssertion re-signs an assertion this issuer signed, with the same
// claims (rid included) and a fresh iat/exp. The shadow engine replays a
// request's headers when a worker gets to it, which on a slow candidate
// can be more than AssertionTTL after the client was served: the copy
// must not reach the other backend with an expired assertion and be
// counted as that backend's failure.
//
// Only this issuer's own assertions are accepted — signature by a key it
// still publishes, its issuer, audience and type — whatever their age:
// nothing is re-signed that it did not sign before, so refreshing grants
// nothing new. Anything else is an error and must not be forwarded.
func (m *AssertionMinter) RefreshAssertion(ctx context.Context, token string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("refresh assertion: %w", err)
	}
	var c assertionClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods(signerAlgorithms()),
		jwt.WithoutClaimsValidation(), // expired is the point; the rest is checked below
		jwt.WithStrictDecoding(),
	)
	t, err := parser.ParseWithClaims(token, &c, m.ownKey)
	if err != nil {
		return "", fmt.Errorf("refresh assertion: %w", err)
	}
	if typ, _ := t.Header["typ"].(string); typ != assertionType {
		return "", fmt.Errorf("refresh assertion: type %.32q is not %s", typ, assertionType)
	}
	if c.Issuer != m.signer.issuer {
		return "", errors.New("refresh assertion: not this issuer's")
	}
	if len(c.Audience) != 1 || c.Audience[0] != AssertionAudience {
		return "", errors.New("refresh assertion: not an upstream assertion")
	}
	if c.OrgID == "" {
		return "", errors.New("refresh assertion: no org")
	}
	now := m.signer.now()
	claims := assertionJSON{
		Iss: m.signer.issuer, Sub: c.Subject, Aud: AssertionAudience,
		Iat: now.Unix(), Exp: now.Add(AssertionTTL).Unix(),
		OrgID: c.OrgID, OrgSlug: c.OrgSlug, ProjectID: c.ProjectID,
		UserID: c.UserID, OrgRole: c.OrgRole, RequestID: c.RequestID,
	}
	tok, err := m.signer.current().active.sign(assertionType, claims)
	if err != nil {
		return "", fmt.Errorf("refresh assertion: %w", err)
	}
	return tok, nil
}

// ownKey resolves the verification key of one of this issuer's tokens.
func (m *AssertionMinter) ownKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	pub, alg, ok := m.signer.publicKey(kid)
	if !ok {
		return nil, fmt.Errorf("unknown kid %.64q", kid)
	}
	if alg != t.Method.Alg() {
		return nil, fmt.Errorf("kid %.64q is a %s key, token says %s", kid, alg, t.Method.Alg())
	}
	return pub, nil
}
