package flags

// RolloutBuckets is the resolution of a percentage rollout: 10000 buckets,
// one per basis point.
const RolloutBuckets = 10000

// RolloutBucket returns the sticky bucket of an organization for a flag:
//
//	FNV-1a 32-bit of the bytes of flagKey + "/" + orgID, modulo 10000
//
// An organization is in a rollout of P percent when its bucket is below
// P×100. The bucket depends only on the flag key and the organization id, so
// the answer is the same on every replica and after every restart, and
// different flags spread the same organizations differently. The hash is
// computed in place: no allocation.
func RolloutBucket(flagKey, orgID string) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(flagKey); i++ {
		h ^= uint32(flagKey[i])
		h *= prime32
	}
	h ^= '/'
	h *= prime32
	for i := 0; i < len(orgID); i++ {
		h ^= uint32(orgID[i])
		h *= prime32
	}
	return h % RolloutBuckets
}
