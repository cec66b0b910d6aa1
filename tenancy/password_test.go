package tenancy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashAndVerifyPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	ok, err := VerifyPassword("correct horse battery", h)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyPassword("correct horse batterY", h)
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = VerifyPassword("", h)
	require.NoError(t, err)
	assert.False(t, ok)

	h2, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "salted")
	assert.False(t, PasswordNeedsRehash(h))

	_, err = HashPassword("")
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = HashPassword(strings.Repeat("p", maxPasswordBytes+1))
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = HashPasswordWith("x", PasswordParams{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestUnknownUserPasswordHash(t *testing.T) {
	ok, err := VerifyPassword("anything", UnknownUserPasswordHash)
	require.NoError(t, err, "the dummy hash must be verifiable, or it would not cost the same time")
	assert.False(t, ok)
	assert.False(t, PasswordNeedsRehash(UnknownUserPasswordHash), "it uses the default parameters")
}

func TestPasswordRehash(t *testing.T) {
	cheap, err := HashPasswordWith("pw", PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	require.NoError(t, err)
	ok, err := VerifyPassword("pw", cheap)
	require.NoError(t, err)
	assert.True(t, ok, "hashes made with other parameters still verify")
	assert.True(t, PasswordNeedsRehash(cheap))
	assert.True(t, PasswordNeedsRehash("garbage"))
}

func TestVerifyPasswordHostileHashes(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	for _, h := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key, // 4 TiB of memory
		"$argon2id$v=19$m=262145,t=2,p=1$" + salt + "$" + key,     // just over the bound
		"$argon2id$v=19$m=19456,t=4294967295,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key,       // 4-byte salt
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$aGFzaA", // 4-byte key
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 600),
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$extra",
		"$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key,
	} {
		ok, err := VerifyPassword("pw", h)
		assert.ErrorIs(t, err, ErrPasswordHash, h)
		assert.False(t, ok)
	}
}

func FuzzVerifyPasswordHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, key, err := parsePHC(h)
		if err != nil {
			return
		}
		// Whatever parses is within the bounds that keep a login cheap enough.
		if p.Memory > maxPasswordMemory || p.Time > maxPasswordTime || p.Threads > maxPasswordLanes ||
			len(salt) < minSaltLen || len(key) < minKeyLen || len(key) > maxKeyLen {
			t.Fatalf("out of bounds: %+v", p)
		}
		if p.Memory <= 1024 { // verify only cheap ones inside the fuzzer
			_, _ = VerifyPassword("pw", h)
		}
	})
}

func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
