package tenancy

import (
	"sync"
	"time"
)

// ttlCache is a bounded map whose entries expire at a time given on insert.
// It is sharded so that concurrent requests rarely meet on one lock, and no
// lock is ever held across I/O: callers compute the value first, then put it.
//
// Eviction is random (Go's map iteration order), after a short sweep for
// expired entries. For a cache of verified credentials that is as good as
// LRU in practice — a hot token is re-verified once and re-cached — and it
// needs no write on the read path, so reads share a RWMutex.
type ttlCache[K comparable, V any] struct {
	shards   []ttlShard[K, V]
	mask     uint64
	perShard int
	hash     func(K) uint64
}

type ttlShard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]ttlEntry[V]
	_  [40]byte // keep shards on separate cache lines
}

type ttlEntry[V any] struct {
	v   V
	exp int64 // unix nanoseconds
}

// ttlCacheShards is a power of two; 16 shards keep lock contention low on
// the core counts a proxy runs on without wasting memory on tiny caches.
const ttlCacheShards = 16

// ttlSweep bounds the work of one insert into a full shard.
const ttlSweep = 8

func newTTLCache[K comparable, V any](capacity int, hash func(K) uint64) *ttlCache[K, V] {
	if capacity < ttlCacheShards {
		capacity = ttlCacheShards
	}
	c := &ttlCache[K, V]{
		shards:   make([]ttlShard[K, V], ttlCacheShards),
		mask:     ttlCacheShards - 1,
		perShard: capacity / ttlCacheShards,
		hash:     hash,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[K]ttlEntry[V])
	}
	return c
}

func (c *ttlCache[K, V]) shard(k K) *ttlShard[K, V] {
	return &c.shards[c.hash(k)&c.mask]
}

// get returns the value for k if it has not expired at now.
func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || now.UnixNano() >= e.exp {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k until exp. An entry already expired is not stored.
func (c *ttlCache[K, V]) put(k K, v V, exp, now time.Time) {
	n := now.UnixNano()
	x := exp.UnixNano()
	if x <= n {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		evicted := false
		i := 0
		for key, e := range s.m {
			if e.exp <= n {
				delete(s.m, key)
				evicted = true
			}
			if i++; i >= ttlSweep {
				break
			}
		}
		if !evicted {
			for key := range s.m {
				delete(s.m, key)
				break
			}
		}
	}
	s.m[k] = ttlEntry[V]{v: v, exp: x}
}

// len counts the entries, expired ones included (tests, metrics).
func (c *ttlCache[K, V]) len() int {
	total := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		total += len(s.m)
		s.mu.RUnlock()
	}
	return total
}

// clear drops every entry.
func (c *ttlCache[K, V]) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}
