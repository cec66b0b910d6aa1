package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"strings"
)

// API key format (SPEC §6), recognisable by secret scanners and checkable
// before any lookup:
//
//	sk_live_ <12-char id> <43-char secret> <6-char checksum>
//
// The id and secret are uniformly random base62 characters: the secret
// alone carries 43·log2(62) ≈ 256 bits, the id ≈ 71 more. The checksum is
// the CRC-32 (IEEE) of everything before it, in 6 base62 characters, so a
// typo or a truncated key is refused without touching the store. The store
// keeps the prefix ("sk_live_" + id, shown in listings) and SHA-256 of the
// whole key; a high-entropy secret makes a slow hash unnecessary.
const (
	// APIKeyPrefix starts every API key.
	APIKeyPrefix = "sk_live_"
	// apiKeyIDLen and apiKeySecretLen are the base62 lengths of the public id
	// and the secret; apiKeyChecksumLen is the checksum's.
	apiKeyIDLen       = 12
	apiKeySecretLen   = 43
	apiKeyChecksumLen = 6
	// APIKeyLen is the length of every well-formed key.
	APIKeyLen = len(APIKeyPrefix) + apiKeyIDLen + apiKeySecretLen + apiKeyChecksumLen
	// apiKeyLookupLen is the length of the stored prefix: "sk_live_" + id.
	apiKeyLookupLen = len(APIKeyPrefix) + apiKeyIDLen
)

// ErrMalformedAPIKey: the string is not a well-formed API key (wrong
// length, prefix, alphabet or checksum). Nothing was looked up.
var ErrMalformedAPIKey = errors.New("malformed api key")

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// GenerateAPIKey returns a new key: the plaintext (shown once), the prefix
// to store and look it up by, and the SHA-256 hash to store.
func GenerateAPIKey() (plaintext, prefix string, hash []byte) {
	plaintext = withChecksum(APIKeyPrefix + randomBase62(apiKeyIDLen+apiKeySecretLen))
	return plaintext, plaintext[:apiKeyLookupLen], HashAPIKey(plaintext)
}

// ParseAPIKey checks the format and checksum of s and returns its lookup
// prefix. It allocates nothing and runs in time linear in len(s) (bounded:
// any other length is refused first). Call it before any store lookup.
func ParseAPIKey(s string) (prefix string, err error) {
	if len(s) != APIKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return "", ErrMalformedAPIKey
	}
	if !validChecksummed(s, len(APIKeyPrefix)) {
		return "", ErrMalformedAPIKey
	}
	return s[:apiKeyLookupLen], nil
}

// HashAPIKey is the stored hash of a plaintext key: SHA-256 of the whole key.
// Compare hashes with crypto/subtle.ConstantTimeCompare.
func HashAPIKey(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}

// withChecksum appends the 6-character checksum of s.
func withChecksum(s string) string {
	var sum [apiKeyChecksumLen]byte
	encodeChecksum(crc32String(s), &sum)
	return s + string(sum[:])
}

// validChecksummed reports whether s[from:] is base62 and s ends with the
// checksum of everything before it.
func validChecksummed(s string, from int) bool {
	for i := from; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	n := len(s) - apiKeyChecksumLen
	var want [apiKeyChecksumLen]byte
	encodeChecksum(crc32String(s[:n]), &want)
	return s[n:] == string(want[:])
}

// encodeChecksum writes v in base62, most significant digit first,
// zero-padded to 6 digits (62^6 > 2^32, so every value fits).
func encodeChecksum(v uint32, out *[apiKeyChecksumLen]byte) {
	for i := apiKeyChecksumLen - 1; i >= 0; i-- {
		out[i] = base62Alphabet[v%62]
		v /= 62
	}
}

// crc32String is crc32.ChecksumIEEE of s without converting s to []byte
// (which would allocate on the verification path).
func crc32String(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

func isBase62(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// randomBase62 returns n uniformly random base62 characters from
// crypto/rand, by rejection sampling (bytes ≥ 248 are dropped so every
// character has probability exactly 1/62). crypto/rand.Read does not fail
// (since Go 1.24 it aborts the program rather than return weak bytes).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62Alphabet[b%62])
			}
		}
	}
	return string(out)
}
