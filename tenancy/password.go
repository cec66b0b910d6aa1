package tenancy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of a password hash.
type PasswordParams struct {
	// Memory in KiB. Each concurrent hash holds this much RAM: budget
	// Memory × concurrent logins.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// DefaultPasswordParams are OWASP's recommendation for argon2id: 19 MiB,
// two passes, one lane (Password Storage Cheat Sheet), a 16-byte salt and a
// 32-byte key.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on what VerifyPassword accepts from a stored PHC string, so a
// corrupted or planted hash cannot make a login allocate gigabytes or spin
// for minutes.
const (
	maxPasswordBytes  = 1024
	maxPasswordMemory = 256 * 1024 // KiB: 256 MiB
	maxPasswordTime   = 16
	maxPasswordLanes  = 16
	minSaltLen        = 8
	maxSaltLen        = 64
	minKeyLen         = 16
	maxKeyLen         = 128
)

// ErrPasswordHash: a stored password hash is not an argon2id PHC string
// within the accepted bounds.
var ErrPasswordHash = errors.New("unsupported password hash")

// UnknownUserPasswordHash is a valid hash (of a random password nobody
// knows) with the default parameters. Verify against it when the email is
// unknown, so that answer takes as long as a wrong password.
const UnknownUserPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$UrzzEAplpYcsPg3+28esFw$5JuQBsMcPPAhlJGh9ZZCsCkk3nZH9pvgkVbDL1Ib5yA"

// HashPassword hashes password with argon2id and DefaultPasswordParams and
// returns a PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>   (unpadded standard base64)
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultPasswordParams())
}

// HashPasswordWith hashes password with the given parameters (which must
// be within the bounds VerifyPassword accepts).
func HashPasswordWith(password string, p PasswordParams) (string, error) {
	if p.Memory > maxPasswordMemory || p.Time < 1 || p.Time > maxPasswordTime || p.Threads < 1 || p.Threads > maxPasswordLanes ||
		p.Memory < 8*uint32(p.Threads) || p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen || p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		return "", fmt.Errorf("hash password: parameters out of bounds: %w", ErrInvalid)
	}
	if password == "" || len(password) > maxPasswordBytes {
		return "", fmt.Errorf("hash password: length must be 1..%d bytes: %w", maxPasswordBytes, ErrInvalid)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string encoded.
// The comparison is constant-time. An error means encoded is not a
// supported hash (the answer is then false).
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// PasswordNeedsRehash reports whether encoded was made with parameters other
// than DefaultPasswordParams (so a login may store a fresh hash).
func PasswordNeedsRehash(encoded string) bool {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	d := DefaultPasswordParams()
	return p.Memory != d.Memory || p.Time != d.Time || p.Threads != d.Threads ||
		uint32(len(salt)) != d.SaltLen || uint32(len(key)) != d.KeyLen
}

// parsePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" strictly.
func parsePHC(s string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	if len(s) > 512 {
		return p, nil, nil, ErrPasswordHash
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, nil, nil, ErrPasswordHash
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, nil, nil, ErrPasswordHash
	}
	m, ok1 := phcParam(params[0], "m=", maxPasswordMemory)
	t, ok2 := phcParam(params[1], "t=", maxPasswordTime)
	l, ok3 := phcParam(params[2], "p=", maxPasswordLanes)
	if !ok1 || !ok2 || !ok3 || t < 1 || l < 1 || m < 8*l {
		return p, nil, nil, ErrPasswordHash
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, ErrPasswordHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, ErrPasswordHash
	}
	p = PasswordParams{Memory: m, Time: t, Threads: uint8(l), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// phcParam parses "k=<decimal>" with 1 <= value <= limit, refusing signs,
// leading zeros and anything else strconv would tolerate.
func phcParam(s, key string, limit uint32) (uint32, bool) {
	v, ok := strings.CutPrefix(s, key)
	if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(limit) {
		return 0, false
	}
	return uint32(n), true
}
