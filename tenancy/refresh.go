package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Refresh tokens of the built-in issuer.
//
// A refresh token is 32 random bytes, base64url without padding (43
// characters); only its SHA-256 is stored (high entropy makes a slow hash
// unnecessary). Each token is one Session row; the first token of a login
// starts a family, whose ID is the sid of every access token of that login.
//
// Rotation (RFC 9700 §4.14): every refresh marks the presented token used
// and issues a child in the same family. Presenting a used token again
// more than the grace window after its first use means it was copied: the
// whole family is revoked (the thief's and the user's tokens alike), so
// the user logs in again and the thief is out.
//
// Grace window (default 10 s, as Supabase): a client that sends two
// refreshes of one token at once — two tabs, a retry after a lost response —
// gets a success for both. Each gets its own child (two children of one
// parent, both live, same family). The alternative, answering the second
// with the first's child, would mean storing a usable plaintext refresh
// token; two children cost nothing and logout still ends both, since it
// revokes the family.
const (
	refreshTokenBytes = 32
	refreshTokenLen   = 43 // base64url, unpadded, of 32 bytes

	// DefaultRefreshGrace is the reuse grace window of refresh tokens.
	DefaultRefreshGrace = 10 * time.Second
	// DefaultRefreshTTL is the refresh-token lifetime when the
	// configuration sets none.
	DefaultRefreshTTL = 720 * time.Hour
)

// newRefreshToken returns a fresh token and its stored hash.
func newRefreshToken() (token string, hash []byte) {
	var b [refreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24 aborts rather than return weak bytes)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashRefreshToken(token)
}

// hashRefreshToken is the stored hash of a token.
func hashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// parseRefreshToken checks the form of a presented token (length and
// alphabet, before any lookup) and returns its hash.
func parseRefreshToken(s string) ([]byte, bool) {
	if len(s) != refreshTokenLen {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	// The last character carries 2 padding bits that must be zero, so each
	// 32-byte value has exactly one spelling.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
		return nil, false
	}
	return hashRefreshToken(s), true
}

// tokenResponse is the answer of login, signup and refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	// ExpiresIn is the access token's remaining lifetime in seconds.
	ExpiresIn int64  `json:"expires_in"`
	TokenType string `json:"token_type"`
}

// sessionMeta is what a new token records of the client.
type sessionMeta struct {
	userAgent string
	clientIP  string
}

func (m sessionMeta) apply(s *Session) {
	// A header may carry bytes that are not UTF-8, which PostgreSQL text
	// refuses; the column holds at most 512 characters.
	ua := strings.ToValidUTF8(m.userAgent, "")
	if utf8.RuneCountInString(ua) > 512 {
		ua = string([]rune(ua)[:512])
	}
	s.UserAgent, s.ClientIP = ua, m.clientIP
}

// sessions opens and rotates refresh-token families.
type sessions struct {
	store  Store
	signer *Signer
	ttl    time.Duration
	grace  time.Duration
	now    func() time.Time
}

// errRefreshInvalid is every refused refresh: unknown, expired, revoked or
// reused token. The client learns only that it must log in again.
var errRefreshInvalid = errors.New("refresh token is not valid")

// open starts a new family for u and returns its first tokens.
func (s *sessions) open(ctx context.Context, u User, meta sessionMeta) (tokenResponse, Session, error) {
	token, hash := newRefreshToken()
	in := Session{UserID: u.ID, TokenHash: hash, ExpiresAt: s.now().Add(s.ttl)}
	meta.apply(&in)
	sess, err := s.store.CreateSession(WithUserID(ctx, u.ID), in)
	if err != nil {
		return tokenResponse{}, Session{}, fmt.Errorf("open session: %w", err)
	}
	resp, err := s.respond(u, sess.FamilyID, token)
	return resp, sess, err
}

// rotateResult is a refresh's outcome.
type rotateResult struct {
	resp tokenResponse
	user User
	// parent is the presented token's row (for a reuse: the family that
	// was revoked).
	parent Session
	// reused is true when the token was reused outside the grace window
	// and its family has just been revoked.
	reused bool
}

// rotate exchanges a presented refresh token (already found by its hash)
// for a child. Errors: errRefreshInvalid (wrapped with the reason), or a
// store failure.
func (s *sessions) rotate(ctx context.Context, parent Session, meta sessionMeta) (rotateResult, error) {
	res := rotateResult{parent: parent}
	now := s.now()
	if !parent.RevokedAt.IsZero() {
		return res, fmt.Errorf("%w: revoked", errRefreshInvalid)
	}
	if !now.Before(parent.ExpiresAt) {
		return res, fmt.Errorf("%w: expired", errRefreshInvalid)
	}
	ctx = WithUserID(ctx, parent.UserID)
	u, err := s.store.GetUser(ctx, parent.UserID)
	if errors.Is(err, ErrNotFound) {
		return res, fmt.Errorf("%w: the user no longer exists", errRefreshInvalid)
	}
	if err != nil {
		return res, fmt.Errorf("refresh: %w", err)
	}
	res.user = u
	token, hash := newRefreshToken()
	child := Session{TokenHash: hash, ExpiresAt: now.Add(s.ttl)}
	meta.apply(&child)
	sess, err := s.store.RotateSession(ctx, RotateInput{
		UserID: parent.UserID, ParentID: parent.ID, Child: child, Now: now, Grace: s.grace,
	})
	switch {
	case errors.Is(err, ErrTokenReused):
		res.reused = true
		return res, fmt.Errorf("%w: reused outside the grace window; the session was revoked", errRefreshInvalid)
	case errors.Is(err, ErrRevoked):
		return res, fmt.Errorf("%w: revoked", errRefreshInvalid)
	case errors.Is(err, ErrNotFound):
		return res, fmt.Errorf("%w: unknown", errRefreshInvalid)
	case err != nil:
		return res, fmt.Errorf("refresh: %w", err)
	}
	res.resp, err = s.respond(u, sess.FamilyID, token)
	return res, err
}

// respond signs an access token of the family for u.
func (s *sessions) respond(u User, familyID, refresh string) (tokenResponse, error) {
	at, exp, err := s.signer.SignAccessToken(AccessTokenClaims{UserID: u.ID, SessionID: familyID, Email: u.Email})
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken:  at,
		RefreshToken: refresh,
		ExpiresIn:    max(int64(exp.Sub(s.now()).Round(time.Second)/time.Second), 0),
		TokenType:    "Bearer",
	}, nil
}
