package shadow

import (
	"crypto/sha256"
	"encoding/hex"
)

// FingerprintLen is the length in hex digits of a fingerprint (64 bits: a
// collision among even a million classes is improbable).
const FingerprintLen = 16

// Fingerprint names a diff class: sha256 over the route and the sorted,
// de-duplicated (normalised path, kind) pairs, shortened to 16 hex digits.
// Values do not take part, so every comparison that differs in the same
// places the same way falls into one class; indices are normalised to [*]
// so the same difference in another array element does too.
func Fingerprint(route string, pattern []PathKind) string {
	p := make([]PathKind, len(pattern))
	copy(p, pattern)
	sortPattern(p)
	h := sha256.New()
	h.Write([]byte(route))
	h.Write([]byte{0})
	var prev PathKind
	for i, pk := range p {
		if i > 0 && pk == prev {
			continue
		}
		prev = pk
		h.Write([]byte(pk.Path))
		h.Write([]byte{0})
		h.Write([]byte(pk.Kind))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:FingerprintLen/2])
}
