package tenancy

import (
	"crypto/sha256"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		plain, prefix, hash := GenerateAPIKey()
		require.Len(t, plain, APIKeyLen)
		assert.True(t, strings.HasPrefix(plain, "sk_live_"))
		assert.Equal(t, plain[:20], prefix)
		sum := sha256.Sum256([]byte(plain))
		assert.Equal(t, sum[:], hash)
		got, err := ParseAPIKey(plain)
		require.NoError(t, err)
		assert.Equal(t, prefix, got)
		assert.False(t, seen[prefix], "prefixes are random")
		seen[prefix] = true
		for i := len(APIKeyPrefix); i < len(plain); i++ {
			assert.True(t, isBase62(plain[i]))
		}
	}
}

func TestChecksumIsCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "sk_live_abc", strings.Repeat("xyz", 40)} {
		assert.Equal(t, crc32.ChecksumIEEE([]byte(s)), crc32String(s), s)
	}
	var out [6]byte
	encodeChecksum(0, &out)
	assert.Equal(t, "000000", string(out[:]))
	encodeChecksum(^uint32(0), &out)
	assert.Equal(t, "4gfFC3", string(out[:]), "2^32-1 in base62 fits six digits")
}

func TestParseAPIKeyHostile(t *testing.T) {
	good, _, _ := GenerateAPIKey()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"prefix only", "sk_live_"},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "0"},
		{"wrong prefix", "sk_test_" + good[8:]},
		{"upper-case prefix", strings.ToUpper(good[:8]) + good[8:]},
		{"flipped body char", flip(20)},
		{"flipped id char", flip(9)},
		{"flipped checksum char", flip(len(good) - 1)},
		{"non-base62 char", good[:30] + "_" + good[31:]},
		{"space", good[:30] + " " + good[31:]},
		{"NUL", good[:30] + "\x00" + good[31:]},
		{"unicode of same byte length", good[:len(good)-2] + "é"},
		{"padded with whitespace", " " + good[:len(good)-1]},
		{"bearer prefix", "Bearer " + good},
		{"huge", strings.Repeat("A", 1<<20)},
		{"checksum recomputed over other prefix", withChecksum("sk_test_" + good[8:len(good)-6])},
		{"JWT-looking", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g"},
		{"admin token", func() string { s, _ := GenerateAdminToken(); return s }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix, err := ParseAPIKey(tc.key)
			assert.ErrorIs(t, err, ErrMalformedAPIKey)
			assert.Empty(t, prefix)
		})
	}
}

func TestParseAPIKeyAllocatesNothing(t *testing.T) {
	good, _, _ := GenerateAPIKey()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseAPIKey(good); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func FuzzParseAPIKey(f *testing.F) {
	good, _, _ := GenerateAPIKey()
	f.Add(good)
	f.Add("")
	f.Add("sk_live_")
	f.Add(good[:len(good)-1] + "x")
	f.Add(strings.Repeat("z", APIKeyLen))
	f.Fuzz(func(t *testing.T, s string) {
		prefix, err := ParseAPIKey(s)
		if err != nil {
			if prefix != "" {
				t.Fatalf("error with a prefix: %q", prefix)
			}
			return
		}
		// Accepted: it must be exactly the documented shape.
		if len(s) != APIKeyLen || !strings.HasPrefix(s, APIKeyPrefix) || prefix != s[:apiKeyLookupLen] {
			t.Fatalf("accepted malformed key %q", s)
		}
		if withChecksum(s[:len(s)-apiKeyChecksumLen]) != s {
			t.Fatalf("accepted a bad checksum %q", s)
		}
	})
}

func TestAdminTokenFormat(t *testing.T) {
	plain, hash := GenerateAdminToken()
	require.Len(t, plain, AdminTokenLen)
	assert.True(t, strings.HasPrefix(plain, "sat_"))
	assert.Equal(t, HashAdminToken(plain), hash)
	require.NoError(t, ParseAdminToken(plain))
	apiKey, _, _ := GenerateAPIKey()
	for _, bad := range []string{"", "sat_", plain[:len(plain)-1], plain + "x", "SAT_" + plain[4:], plain[:10] + "!" + plain[11:], apiKey, strings.Repeat("s", AdminTokenLen)} {
		assert.ErrorIs(t, ParseAdminToken(bad), ErrMalformedAdminToken, bad)
	}
}

func FuzzParseAdminToken(f *testing.F) {
	plain, _ := GenerateAdminToken()
	f.Add(plain)
	f.Add("sat_")
	f.Fuzz(func(t *testing.T, s string) {
		if ParseAdminToken(s) == nil && withChecksum(s[:len(s)-apiKeyChecksumLen]) != s {
			t.Fatalf("accepted %q", s)
		}
	})
}

func BenchmarkParseAPIKey(b *testing.B) {
	good, _, _ := GenerateAPIKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAPIKey(good); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCanonicalID(t *testing.T) {
	for in, want := range map[string]string{
		"6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a":  "6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a",
		"6B0D8F0E-1D1B-4C55-9A51-0D7B6B1F2E3A":  "6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a",
		"6b0d8f0e1d1b4c559a510d7b6b1f2e3a":      "",
		"{6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3}": "",
		"6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3g":  "",
		"6b0d8f0e_1d1b-4c55-9a51-0d7b6b1f2e3a":  "",
		"":                                      "",
	} {
		got, ok := canonicalID(in)
		assert.Equal(t, want != "", ok, in)
		assert.Equal(t, want, got, in)
	}
}
