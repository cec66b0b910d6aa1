package tenancy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// Admin tokens (the bearer tokens of the admin API) look like
//
//	sat_ <43-char base62 secret> <6-char checksum>
//
// with the same checksum as API keys, so a mistyped token is refused before
// any lookup and a leaked one is recognisable. The store keeps SHA-256 of the
// whole token only.
const (
	// AdminTokenPrefix starts every admin token.
	AdminTokenPrefix = "sat_"
	// AdminTokenLen is the length of every well-formed admin token.
	AdminTokenLen = len(AdminTokenPrefix) + apiKeySecretLen + apiKeyChecksumLen
)

// ErrMalformedAdminToken: the string is not a well-formed admin token.
var ErrMalformedAdminToken = errors.New("malformed admin token")

// GenerateAdminToken returns a new admin token and the hash to store.
func GenerateAdminToken() (plaintext string, hash []byte) {
	plaintext = withChecksum(AdminTokenPrefix + randomBase62(apiKeySecretLen))
	return plaintext, HashAdminToken(plaintext)
}

// ParseAdminToken checks the format and checksum of s.
func ParseAdminToken(s string) error {
	if len(s) != AdminTokenLen || !strings.HasPrefix(s, AdminTokenPrefix) ||
		!validChecksummed(s, len(AdminTokenPrefix)) {
		return ErrMalformedAdminToken
	}
	return nil
}

// HashAdminToken is the stored hash of a plaintext admin token.
func HashAdminToken(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}

// VerifyAdminToken checks the token's format, then asks the store whether
// it is a usable token (recording the use). Any failure — malformed,
// unknown, revoked, expired, consumed — wraps ErrNotFound.
func VerifyAdminToken(ctx context.Context, s AdminTokenStore, plaintext string) (AdminToken, error) {
	if err := ParseAdminToken(plaintext); err != nil {
		return AdminToken{}, fmt.Errorf("verify admin token: %w: %w", ErrNotFound, err)
	}
	t, err := s.AuthenticateAdminToken(ctx, HashAdminToken(plaintext))
	if err != nil {
		return AdminToken{}, fmt.Errorf("verify admin token: %w", err)
	}
	return t, nil
}
