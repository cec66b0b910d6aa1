package flags

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/7cycles-ai/strangler/internal/pgtest"
)

// replica is one "process": its own pool, store, provider and decider on
// the shared database.
type replica struct {
	store   *PostgresStore
	decider *Decider
}

func newReplica(t *testing.T, appURL string, opts PostgresStoreOptions) replica {
	t.Helper()
	opts.Logger = zaptest.NewLogger(t)
	store := NewPostgresStore(pgtest.Pool(t, appURL), opts)
	d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{Logger: opts.Logger, ResyncInterval: -1}),
		DeciderOptions{Routes: []string{"qa"}})
	waitReady(t, d)
	return replica{store: store, decider: d}
}

// TestTwoReplicasOneDatabase: a change made through one replica is applied
// by the other within 1 s, in both directions, for overrides, rules and the
// kill switch.
func TestTwoReplicasOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	a := newReplica(t, appURL, PostgresStoreOptions{})
	b := newReplica(t, appURL, PostgresStoreOptions{})
	in := Request{OrgID: "0b7f3c1e-0000-4000-8000-000000000001", OrgSlug: "acme", Route: "qa", Method: "GET"}

	expect := func(r replica, want Mode) {
		t.Helper()
		require.Eventually(t, func() bool {
			m, err := r.decider.Decide(ctx, in)
			return err == nil && m == want
		}, time.Second, 5*time.Millisecond, "replica did not apply %s within 1s", want)
	}
	expect(a, ModeLegacy)
	expect(b, ModeLegacy)

	_, err := a.store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: in.OrgID, OrgSlug: "acme", Variant: ModeShadow}, testAudit)
	require.NoError(t, err)
	expect(b, ModeShadow)
	expect(a, ModeShadow)

	_, err = b.store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: in.OrgID, Variant: ModeCanary}, testAudit)
	require.NoError(t, err)
	expect(a, ModeCanary)

	_, err = a.store.DeleteOverride(ctx, "route.qa", in.OrgID, testAudit)
	require.NoError(t, err)
	_, err = a.store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeNew}, testAudit)
	require.NoError(t, err)
	expect(b, ModeNew)

	_, err = b.store.SetKillSwitch(ctx, false, Audit{Actor: "oncall", Reason: "incident"})
	require.NoError(t, err)
	expect(a, ModeLegacy)
	_, err = a.store.SetKillSwitch(ctx, true, Audit{Actor: "oncall", Reason: "resolved"})
	require.NoError(t, err)
	expect(b, ModeNew)
}

// listenerPID returns the backend pid of the connection LISTENing on
// NotifyChannel in database db (a superuser connection sees every
// session's query text).
func listenerPID(t *testing.T, ctx context.Context, admin *pgx.Conn, db string) int32 {
	t.Helper()
	var pid int32
	require.Eventually(t, func() bool {
		err := admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND query ILIKE 'listen %strangler_flags%'
			ORDER BY backend_start DESC LIMIT 1`, db).Scan(&pid)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	return pid
}

// TestStaleWhenListenerTerminated: killing the listener's backend
// (pg_terminate_backend) makes the provider STALE; it reconnects, resyncs
// — including a change committed while it was down — and is READY again.
func TestStaleWhenListenerTerminated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	cfg, err := pgx.ParseConfig(appURL)
	require.NoError(t, err)
	store := NewPostgresStore(pgtest.Pool(t, appURL), PostgresStoreOptions{
		ReconnectDelay: 300 * time.Millisecond, Logger: zaptest.NewLogger(t)})
	p := NewStoreProvider(store, StoreProviderOptions{ResyncInterval: -1})
	startProvider(t, p)
	_, err = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "o1", Variant: ModeShadow}, testAudit)
	require.NoError(t, err)
	nextEvent(t, p, openfeature.ProviderConfigChange)

	admin := pgtest.Conn(t, pgtest.AdminURL())
	pid := listenerPID(t, ctx, admin, cfg.Database)
	var ok bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok))
	require.True(t, ok)
	// A change lands while the listener is down: no NOTIFY reaches us.
	_, err = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "o1", Variant: ModeCanary}, testAudit)
	require.NoError(t, err)

	ev := nextEvent(t, p, openfeature.ProviderStale, openfeature.ProviderReady)
	require.Equal(t, openfeature.ProviderStale, ev.EventType, "STALE comes first: %+v", ev)
	nextEvent(t, p, openfeature.ProviderReady)
	res := evalMode(p, "route.qa", "o1")
	assert.Equal(t, "canary", res.Value, "the resync after reconnecting applied the missed change")
	assert.Equal(t, openfeature.TargetingMatchReason, res.Reason)
	assert.NotEqual(t, pid, listenerPID(t, ctx, admin, cfg.Database), "a new listener connection")
}

// TestStaleWhileListenerUnreachable points the listener at a TCP relay
// that is then cut: the provider stays STALE, keeps serving the last
// state with reason CACHED (the decider still routes by it), and /readyz
// reports it; when the relay is back, it resyncs and is READY.
func TestStaleWhileListenerUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	cfg, err := pgx.ParseConfig(appURL)
	require.NoError(t, err)
	relay := newTCPRelay(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	host, port, err := net.SplitHostPort(relay.addr())
	require.NoError(t, err)
	listenCfg := cfg.Copy()
	listenCfg.Host = host
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	listenCfg.Port = uint16(p)

	log := zaptest.NewLogger(t)
	store := NewPostgresStore(pgtest.Pool(t, appURL), PostgresStoreOptions{
		ReconnectDelay: 100 * time.Millisecond, Logger: log,
		ListenConnect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, listenCfg) },
	})
	_, err = store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeShadow}, testAudit)
	require.NoError(t, err)
	d, reg := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{Logger: log, ResyncInterval: -1}),
		DeciderOptions{Routes: []string{"qa"}})
	waitReady(t, d)
	events := recordEvents(d)
	in := Request{OrgID: "o1", Route: "qa", Method: "GET"}
	require.Eventually(t, func() bool { return relay.active() > 0 }, 5*time.Second, 10*time.Millisecond)

	relay.cut()
	require.Eventually(t, func() bool { return d.State() == openfeature.StaleState }, 5*time.Second, 5*time.Millisecond)
	require.ErrorContains(t, d.Ready(), "STALE")
	_, err = store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeCanary}, testAudit)
	require.NoError(t, err)
	refused := relay.refusedCount()
	require.Eventually(t, func() bool { return relay.refusedCount() >= refused+2 }, 5*time.Second, 5*time.Millisecond,
		"the listener keeps trying to reconnect")
	assert.Equal(t, openfeature.StaleState, d.State())
	m, err := d.Decide(ctx, in)
	require.NoError(t, err, "a stale provider still answers")
	assert.Equal(t, ModeShadow, m, "the last known state")
	res, err := d.client.StringValueDetails(ctx, "route.qa", "legacy", openfeature.NewEvaluationContext("o1", nil))
	require.NoError(t, err)
	assert.Equal(t, openfeature.CachedReason, res.Reason)
	assert.Zero(t, counterValue(t, reg, "strangler_flag_fallbacks_total", nil))

	readyBefore := events.count(openfeature.ProviderReady)
	relay.restore()
	require.Eventually(t, func() bool { return d.State() == openfeature.ReadyState }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return events.count(openfeature.ProviderReady) > readyBefore }, 5*time.Second, 5*time.Millisecond)
	m, err = d.Decide(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, ModeCanary, m, "the change made during the outage")
	require.NoError(t, d.Ready())
}

// tcpRelay forwards connections to a target until cut; while cut it
// closes every connection, new ones included.
type tcpRelay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool
	refused int
	conns   map[net.Conn]struct{}
}

func newTCPRelay(t *testing.T, target string) *tcpRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &tcpRelay{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go r.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		r.cut()
	})
	return r
}

func (r *tcpRelay) addr() string { return r.ln.Addr().String() }

func (r *tcpRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		down := r.down
		if down {
			r.refused++
		} else {
			r.conns[c] = struct{}{}
		}
		r.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		go r.pipe(c)
	}
}

func (r *tcpRelay) pipe(c net.Conn) {
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		_ = c.Close()
		return
	}
	r.mu.Lock()
	r.conns[up] = struct{}{}
	r.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, up)
	r.mu.Unlock()
}

func (r *tcpRelay) active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

func (r *tcpRelay) refusedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

func (r *tcpRelay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for c := range r.conns {
		_ = c.Close()
	}
}

func (r *tcpRelay) restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = false
}
