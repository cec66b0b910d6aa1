package tenancy

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is one token bucket: Burst attempts at once, then one more
// every Every. A zero Burst takes the default of its use; a negative one
// disables the limit.
type RateLimit struct {
	// Every is the refill interval of one attempt.
	Every time.Duration
	// Burst is how many attempts may follow each other without waiting.
	Burst int
}

// RateLimitOptions are the limits of the built-in issuer (SPEC §6: login
// failures are rate limited per IP and per account). Refusals are 429
// too_many_requests with Retry-After.
//
// Per account, only failures count for login (a user who types the right
// password is never slowed by an attacker's guesses beyond the account's
// own bucket), and the bucket is keyed by the email as typed, known or not,
// so a 429 reveals nothing about whether the account exists.
type RateLimitOptions struct {
	// LoginPerIP limits login and signup attempts per client address (IPv6
	// by /64). Default: burst 20, then one every 3 s (20/min).
	LoginPerIP RateLimit
	// LoginPerAccount limits failed logins per email, and signups per
	// email. Default: burst 5, then one every 20 s (3/min): an online guess
	// rate of ~4,300 a day per account, against passwords of at least 8
	// characters hashed with argon2id.
	LoginPerAccount RateLimit
	// RefreshPerIP limits refresh attempts per client address. Default:
	// burst 60, then one a second.
	RefreshPerIP RateLimit
	// RefreshPerAccount limits refreshes per user. Default: burst 30, then
	// one every 2 s.
	RefreshPerAccount RateLimit
	// MaxKeys bounds each limiter's table (addresses, emails, users); the
	// least recently used entry is dropped when it is full. Default 10,000
	// (about 2 MB per limiter).
	MaxKeys int
}

func (o RateLimitOptions) withDefaults() RateLimitOptions {
	def := func(l *RateLimit, every time.Duration, burst int) {
		if l.Burst == 0 {
			l.Burst = burst
		}
		if l.Every <= 0 {
			l.Every = every
		}
	}
	def(&o.LoginPerIP, 3*time.Second, 20)
	def(&o.LoginPerAccount, 20*time.Second, 5)
	def(&o.RefreshPerIP, time.Second, 60)
	def(&o.RefreshPerAccount, 2*time.Second, 30)
	if o.MaxKeys <= 0 {
		o.MaxKeys = 10_000
	}
	return o
}

// keyedLimiter is a table of token buckets by key (an address, an email, a
// user ID), bounded by LRU eviction. Evicting a bucket that is not full
// again forgives its debt; the table is sized so that this needs more
// distinct keys than one client's own limits let it try.
//
// State shared between requests: the table, under one mutex held only for
// map and list operations (the login path it guards costs an argon2id hash,
// so contention on it does not matter); each bucket has its own lock.
type keyedLimiter struct {
	limit    rate.Limit
	burst    int
	max      int
	disabled bool
	now      func() time.Time

	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *limiterEntry, most recent first
}

type limiterEntry struct {
	key string
	lim *rate.Limiter
}

func newKeyedLimiter(l RateLimit, maxKeys int, now func() time.Time) *keyedLimiter {
	k := &keyedLimiter{max: maxKeys, now: now, m: make(map[string]*list.Element)}
	if l.Burst < 0 {
		k.disabled = true
		return k
	}
	k.limit, k.burst = rate.Every(l.Every), l.Burst
	return k
}

// bucket returns key's bucket, creating it (and evicting the least
// recently used one when the table is full).
func (k *keyedLimiter) bucket(key string) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[key]; ok {
		k.lru.MoveToFront(e)
		return e.Value.(*limiterEntry).lim
	}
	if len(k.m) >= k.max {
		if back := k.lru.Back(); back != nil {
			delete(k.m, back.Value.(*limiterEntry).key)
			k.lru.Remove(back)
		}
	}
	lim := rate.NewLimiter(k.limit, k.burst)
	k.m[key] = k.lru.PushFront(&limiterEntry{key: key, lim: lim})
	return lim
}

// take spends one attempt of key. It returns a ticket (for give-back) when
// allowed, or how long until an attempt would be allowed.
func (k *keyedLimiter) take(key string) (ticket, time.Duration) {
	if k.disabled {
		return ticket{}, 0
	}
	now := k.now()
	r := k.bucket(key).ReserveN(now, 1)
	if !r.OK() {
		return ticket{}, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		// Refused: undo the reservation, so refused attempts do not push
		// the next allowed one further away.
		r.CancelAt(now)
		return ticket{}, d
	}
	return ticket{r: r, now: k.now}, 0
}

// len returns the number of buckets held.
func (k *keyedLimiter) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// ticket is an allowed attempt; giveBack returns it to the bucket (a
// successful login does not count against the account).
type ticket struct {
	r   *rate.Reservation
	now func() time.Time
}

func (t ticket) giveBack() {
	if t.r != nil {
		t.r.CancelAt(t.now())
	}
}

// rateLimiters are the issuer's limiters.
type rateLimiters struct {
	loginIP, loginAccount, refreshIP, refreshAccount *keyedLimiter
}

func newRateLimiters(o RateLimitOptions, now func() time.Time) *rateLimiters {
	o = o.withDefaults()
	return &rateLimiters{
		loginIP:        newKeyedLimiter(o.LoginPerIP, o.MaxKeys, now),
		loginAccount:   newKeyedLimiter(o.LoginPerAccount, o.MaxKeys, now),
		refreshIP:      newKeyedLimiter(o.RefreshPerIP, o.MaxKeys, now),
		refreshAccount: newKeyedLimiter(o.RefreshPerAccount, o.MaxKeys, now),
	}
}
