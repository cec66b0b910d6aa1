package tenancy

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Caches of the request hot path: API keys by prefix, memberships, orgs,
// users, external subjects and projects. Every entry is invalidated
// precisely from the store's change feed (ChangeNotifier): a revocation,
// key deletion, role change or membership removal committed on any replica
// reaches this one in milliseconds (PostgreSQL LISTEN/NOTIFY), well within
// the 1 s of SPEC §6 and §12.
//
// Staleness is bounded even when the feed is not:
//
//   - Until the subscription is live (the first ChangeAll), and again from
//     the moment a listener reports its connection lost (ChangeFeedDown)
//     until it is back (ChangeAll), every entry is stored for at most
//     CacheOptions.DownTTL (1 s): a change that nobody hears is then seen
//     at the next lookup after that.
//   - ChangeFeedDown and ChangeAll flush everything, so what was cached
//     before an outage is never served after it.
//   - A store without a change feed keeps the caches permanently at
//     DownTTL.
//
// What remains is the time the listener needs to notice a dead connection
// (the TCP keep-alive of the listening connection, 15 s by default in Go,
// when a network partition drops packets silently rather than resetting).
//
// Fill races: a lookup that misses reads the store, then stores the answer
// — but a change may land between the two. Every invalidation moves an
// epoch first and then deletes; a fill remembers the epoch before its read
// and stores only if it has not moved, checked under the same shard lock as
// the delete, so a stale answer is never kept.

// CacheOptions size and age the authentication caches. Zero values take
// the defaults. TTLs are a backstop: changes are pushed by the store.
type CacheOptions struct {
	// KeyTTL is how long a verified API key's record is kept. Default 5m.
	KeyTTL time.Duration
	// NegativeTTL is how long "no such key / org / project" is remembered.
	// Short, so a key created on another replica works at once even where
	// creations are not announced (the memory store). Default 2s.
	NegativeTTL time.Duration
	// MembershipTTL is how long a (user, org) → role answer is kept.
	// Default 1m.
	MembershipTTL time.Duration
	// OrgTTL is how long orgs (by id and slug) and projects are kept.
	// Default 5m.
	OrgTTL time.Duration
	// UserTTL is how long a user's default org and an external subject's
	// user id are kept. Default 1m.
	UserTTL time.Duration
	// DownTTL caps every TTL while the change feed is not live. Default 1s.
	DownTTL time.Duration
	// Size caps the entries of each cache. Default 50,000 (a few MiB in all).
	Size int
}

func (o CacheOptions) withDefaults() CacheOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeyTTL, 5*time.Minute)
	def(&o.NegativeTTL, 2*time.Second)
	def(&o.MembershipTTL, time.Minute)
	def(&o.OrgTTL, 5*time.Minute)
	def(&o.UserTTL, time.Minute)
	def(&o.DownTTL, time.Second)
	if o.Size <= 0 {
		o.Size = 50_000
	}
	return o
}

// ---- the cache type ----

// authCache is a bounded, sharded TTL map with precise deletion and
// epoch-guarded inserts. No lock is held across I/O; reads take a shard's
// read lock only.
type authCache[K comparable, V any] struct {
	shards   [authShards]authShard[K, V]
	perShard int
	hash     func(K) uint64
	epoch    *atomic.Uint64
}

const authShards = 16

type authShard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]authEntry[V]
	_  [40]byte // keep shards on separate cache lines
}

type authEntry[V any] struct {
	v   V
	exp int64 // unix nanoseconds
}

func newAuthCache[K comparable, V any](size int, epoch *atomic.Uint64, hash func(K) uint64) *authCache[K, V] {
	c := &authCache[K, V]{perShard: max(size/authShards, 1), hash: hash, epoch: epoch}
	for i := range c.shards {
		c.shards[i].m = make(map[K]authEntry[V])
	}
	return c
}

func (c *authCache[K, V]) shard(k K) *authShard[K, V] {
	return &c.shards[c.hash(k)&(authShards-1)]
}

// get returns the live value of k.
func (c *authCache[K, V]) get(k K, now int64) (V, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || now >= e.exp {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v until exp unless the epoch moved away from epoch (an
// invalidation ran since the caller started reading the store). A full
// shard first drops expired entries it meets, then one at random.
func (c *authCache[K, V]) put(k K, v V, now, exp int64, epoch uint64) {
	if exp <= now {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		evicted, i := false, 0
		for key, e := range s.m {
			if e.exp <= now {
				delete(s.m, key)
				evicted = true
			}
			if i++; i >= 8 {
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
	s.m[k] = authEntry[V]{v: v, exp: exp}
}

// del drops k. Callers move the epoch first (authCaches.invalidate).
func (c *authCache[K, V]) del(k K) {
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// delFunc drops every entry for which drop returns true. It walks the whole
// cache: changes are rare, lookups are not.
func (c *authCache[K, V]) delFunc(drop func(K, V) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if drop(k, e.v) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

func (c *authCache[K, V]) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *authCache[K, V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// ---- coalesced misses ----

// flight makes concurrent misses of one key share one store read (a burst
// of requests with a new key, a JIT user's first parallel requests).
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// do runs fn once for concurrent callers of k. A caller whose ctx ends
// stops waiting; fn runs on with a context detached from any one caller's
// cancellation (bounded by fnTimeout), so one impatient client does not
// fail the others.
func (f *flight[K, V]) do(ctx context.Context, k K, fn func(context.Context) (V, error)) (V, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[K]*flightCall[V])
	}
	c, ok := f.calls[k]
	if !ok {
		c = &flightCall[V]{done: make(chan struct{})}
		f.calls[k] = c
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
			defer cancel()
			c.v, c.err = fn(fctx)
			f.mu.Lock()
			delete(f.calls, k)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// flightTimeout bounds one shared store read.
const flightTimeout = 10 * time.Second

// ---- the caches of the auth stack ----

// keyRecord is what the API-key authenticator keeps of a key: the stored
// record and the read-only Principal and permissions every request with
// the key shares.
type keyRecord struct {
	key       APIKey
	principal *Principal
	perms     []string
	// touched is the unix second of the last use handed to the last-used
	// writer, so a busy key is queued about once per flush interval.
	touched atomic.Int64
}

// memberKey is a (org, user) pair.
type memberKey struct{ orgID, userID string }

// memberRecord is a user's role in an org; Role "" means not a member.
type memberRecord struct{ role Role }

// orgRecord is an org as resolution needs it; nil in the cache means "no
// such org" (a negative entry).
type orgRecord struct{ id, slug string }

// userRecord is a user as resolution needs it.
type userRecord struct {
	id           string
	defaultOrgID string
	memberships  []UserMembership
}

// projectKey looks a project up within an org by id or slug.
type projectKey struct{ orgID, ref string }

// authCaches groups the caches and applies the change feed to them.
type authCaches struct {
	opts  CacheOptions
	epoch atomic.Uint64
	// live is true while the change feed is known to be delivering.
	live atomic.Bool
	// invalidations counts changes applied (tests, metrics).
	invalidations atomic.Uint64

	keys     *authCache[string, *keyRecord] // by prefix
	keyByID  *authCache[string, *keyRecord] // by key ID (resolution, invalidation)
	noKeys   *authCache[string, struct{}]   // unknown prefixes
	members  *authCache[memberKey, memberRecord]
	orgByID  *authCache[string, *orgRecord]
	orgBySlg *authCache[string, *orgRecord]
	users    *authCache[string, *userRecord] // by user id
	subjects *authCache[string, string]      // external subject → user id
	projects *authCache[projectKey, string]  // → project id; "" not found

	keyFlight     flight[string, *keyRecord]
	memberFlight  flight[memberKey, memberRecord]
	userFlight    flight[string, *userRecord]
	orgFlight     flight[string, *orgRecord]
	projectFlight flight[projectKey, string]
	subjectFlight flight[string, string]
}

func newAuthCaches(o CacheOptions) *authCaches {
	o = o.withDefaults()
	c := &authCaches{opts: o}
	seed := maphash.MakeSeed()
	str := func(s string) uint64 { return maphash.String(seed, s) }
	pair := func(a, b string) uint64 { return maphash.String(seed, a) ^ maphash.String(seed, b)*0x9e3779b97f4a7c15 }
	c.keys = newAuthCache[string, *keyRecord](o.Size, &c.epoch, str)
	c.keyByID = newAuthCache[string, *keyRecord](o.Size, &c.epoch, str)
	c.noKeys = newAuthCache[string, struct{}](o.Size, &c.epoch, str)
	c.members = newAuthCache[memberKey, memberRecord](o.Size, &c.epoch, func(k memberKey) uint64 { return pair(k.orgID, k.userID) })
	c.orgByID = newAuthCache[string, *orgRecord](o.Size, &c.epoch, str)
	c.orgBySlg = newAuthCache[string, *orgRecord](o.Size, &c.epoch, str)
	c.users = newAuthCache[string, *userRecord](o.Size, &c.epoch, str)
	c.subjects = newAuthCache[string, string](o.Size, &c.epoch, str)
	c.projects = newAuthCache[projectKey, string](o.Size, &c.epoch, func(k projectKey) uint64 { return pair(k.orgID, k.ref) })
	return c
}

// expiry returns when an entry stored now with ttl expires: capped at
// DownTTL while the feed is not live.
func (c *authCaches) expiry(now time.Time, ttl time.Duration) int64 {
	if !c.live.Load() && ttl > c.opts.DownTTL {
		ttl = c.opts.DownTTL
	}
	return now.Add(ttl).UnixNano()
}

// apply is the change-feed subscriber: it drops exactly what c names (and
// everything on ChangeAll / ChangeFeedDown). It runs on the notifier's
// goroutine and does no I/O.
func (c *authCaches) apply(ch Change) {
	c.epoch.Add(1) // before any delete: see "Fill races"
	c.invalidations.Add(1)
	switch ch.Kind {
	case ChangeAll:
		c.clearAll()
		c.live.Store(true)
	case ChangeFeedDown:
		c.live.Store(false)
		c.clearAll()
	case ChangeAPIKey:
		c.keyByID.del(ch.ID)
		c.keys.delFunc(func(_ string, r *keyRecord) bool { return r.key.ID == ch.ID })
		// A creation makes a remembered "no such prefix" wrong.
		c.noKeys.clear()
	case ChangeMembership:
		if ch.OrgID == "" {
			c.members.delFunc(func(k memberKey, _ memberRecord) bool { return k.userID == ch.UserID })
		} else {
			c.members.del(memberKey{ch.OrgID, ch.UserID})
		}
		// The user's membership list and default org follow memberships.
		c.users.del(ch.UserID)
	case ChangeUser:
		c.users.del(ch.UserID)
		c.subjects.delFunc(func(_ string, id string) bool { return id == ch.UserID })
	case ChangeOrg:
		org := ch.OrgID
		if org == "" {
			org = ch.ID
		}
		c.dropOrg(org)
	case ChangeProject:
		c.projects.delFunc(func(k projectKey, _ string) bool { return k.orgID == ch.OrgID })
		// Deleting a project deletes the keys bound to it.
		dropKeys := func(_ string, r *keyRecord) bool { return r.key.OrgID == ch.OrgID && r.key.ProjectID == ch.ID }
		c.keys.delFunc(dropKeys)
		c.keyByID.delFunc(dropKeys)
	case ChangeSession, ChangeAdminToken:
		// Not cached here.
	default:
		// A kind this code does not know: assume the worst.
		c.clearAll()
	}
}

// dropOrg forgets everything of an org (a rename or a deletion, which
// deletes its memberships, projects and keys).
func (c *authCaches) dropOrg(orgID string) {
	c.orgByID.del(orgID)
	// Slugs: the renamed org, and any negative entry the new slug had.
	c.orgBySlg.clear()
	c.members.delFunc(func(k memberKey, _ memberRecord) bool { return k.orgID == orgID })
	c.projects.delFunc(func(k projectKey, _ string) bool { return k.orgID == orgID })
	dropKeys := func(_ string, r *keyRecord) bool { return r.key.OrgID == orgID }
	c.keys.delFunc(dropKeys)
	c.keyByID.delFunc(dropKeys)
	c.users.delFunc(func(_ string, u *userRecord) bool {
		if u.defaultOrgID == orgID {
			return true
		}
		for _, m := range u.memberships {
			if m.OrgID == orgID {
				return true
			}
		}
		return false
	})
}

// flush drops everything without changing what is known of the feed.
func (c *authCaches) flush() {
	c.epoch.Add(1)
	c.clearAll()
}

func (c *authCaches) clearAll() {
	c.keys.clear()
	c.keyByID.clear()
	c.noKeys.clear()
	c.members.clear()
	c.orgByID.clear()
	c.orgBySlg.clear()
	c.users.clear()
	c.subjects.clear()
	c.projects.clear()
}
