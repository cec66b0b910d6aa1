package flags

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Reference values of MurmurHash3_x86_32 with seed 0 (SMHasher).
func TestMurmur3Sum32(t *testing.T) {
	cases := map[string]uint32{
		"":      0,
		"a":     0x3c2569b2,
		"ab":    0x9bbfd75f,
		"abc":   0xb3dd93fa,
		"abcd":  0x43ed676a,
		"hello": 0x248bfa47,
		"The quick brown fox jumps over the lazy dog": 0x2e4ff723,
	}
	for in, want := range cases {
		assert.Equal(t, want, murmur3Sum32([]byte(in)), "%q", in)
	}
}
