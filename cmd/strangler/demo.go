package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/app"
	"github.com/7cycles-ai/strangler/internal/sampleapp"
)

// demoOptions are the flags of strangler demo.
type demoOptions struct {
	listen      string
	adminListen string
	traffic     bool
	rate        float64
	logLevel    string
}

// maxTrafficRate bounds --traffic-rate: the demo's traffic is a sample,
// not a load test.
const maxTrafficRate = 50

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [--listen :8080] [--admin-listen 127.0.0.1:9090] [--traffic]",
		Short: "Run the proxy in front of two sample services, all in one process",
		Long: `Run everything in one process on the embedded memory store: a sample
legacy service (single-tenant, shaped like the first user's FastAPI app), a
sample tenant-aware new service, the proxy in front of them and the admin
listener. The sample services listen on free loopback ports.

A banner lists the URLs and copy-paste curl lines. --traffic sends steady
sample traffic to the proxy (loopback only, --traffic-rate requests per
second, at most 50) so that metrics and reports fill. Ctrl-C drains and
stops.`,
		Example: `  strangler demo
  strangler demo --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:19090 --traffic`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return runDemo(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", ":8080", "public proxy listener")
	f.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:9090", "admin listener (/healthz, /readyz, /metrics)")
	f.BoolVar(&o.traffic, "traffic", false, "send steady sample traffic to the proxy")
	f.Float64Var(&o.rate, "traffic-rate", 5, fmt.Sprintf("requests per second of --traffic (at most %d)", maxTrafficRate))
	f.StringVar(&o.logLevel, "log-level", "warn", "log level: debug, info (one access log line per request), warn, error")
	return cmd
}

// check turns bad flag values into usage errors.
func (o demoOptions) check() error {
	for _, f := range []struct{ name, addr string }{{"--listen", o.listen}, {"--admin-listen", o.adminListen}} {
		if _, port, err := net.SplitHostPort(f.addr); err != nil || port == "" {
			return usageError("demo: %s: %q is not host:port, e.g. :8080 or 127.0.0.1:9090", f.name, f.addr)
		}
	}
	if o.listen == o.adminListen && !strings.HasSuffix(o.listen, ":0") {
		return usageError("demo: --listen and --admin-listen must differ (both %q)", o.listen)
	}
	if !(o.rate > 0 && o.rate <= maxTrafficRate) {
		return usageError("demo: --traffic-rate must be above 0 and at most %d, got %v", maxTrafficRate, o.rate)
	}
	switch o.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return usageError("demo: --log-level must be one of debug, info, warn, error, got %q", o.logLevel)
	}
	return nil
}

// demoConfig is the configuration of the demo, built in code: the memory
// store, the two sample services, and the route groups of the first user.
func demoConfig(o demoOptions, legacyURL, newURL, adminToken string) (*config.Config, error) {
	cfg := config.Default()
	cfg.Server.Listen = o.listen
	cfg.Server.AdminListen = o.adminListen
	// Ctrl-C should not keep a demo waiting long.
	cfg.Server.ShutdownGrace = config.Duration(5 * time.Second)
	cfg.Log = config.Log{Level: o.logLevel, Format: "console"}
	cfg.Store.Driver = "memory"
	cfg.Upstreams.Legacy.URL = legacyURL
	cfg.Upstreams.New.URL = newURL
	cfg.Routes = demoRoutes()
	cfg.Tenancy.DefaultOrg = "legacy"
	cfg.Auth.Issuer.Enabled = true
	cfg.Auth.Issuer.Issuer = "https://strangler.demo"
	// The banner's tokens should outlive a coffee break.
	cfg.Auth.Issuer.AccessTTL = config.Duration(12 * time.Hour)
	cfg.Admin.BootstrapToken = adminToken
	config.ApplyDefaults(cfg)
	if err := config.Validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// demoRoutes are the route groups of configs/7cycles.yaml over the sample
// services, with comparison rules that ignore their volatile fields.
func demoRoutes() []config.Route {
	volatile := []string{"$.id", "$.created_at", "$.generated_at"}
	headers := []string{"Date", "X-Request-ID"}
	route := func(name string, paths []string, ignore ...string) config.Route {
		return config.Route{
			Name:  name,
			Paths: paths,
			Auth:  config.AuthOptional,
			Shadow: config.RouteShadow{
				IgnorePaths:   append(append([]string(nil), volatile...), ignore...),
				IgnoreHeaders: headers,
			},
		}
	}
	return []config.Route{
		route("qa", []string{"/api/qa", "/api/knowledge/"}),
		route("affirmations", []string{"/api/affirmations"}, "$.items[*].id", "$.items[*].created_at"),
		route("content-strategy", []string{"/api/content-strategy"}),
		route("instagram", []string{"/api/instagram/"}, "$.posts[*].id", "$.posts[*].created_at"),
		route("visual-posts", []string{"/api/visual-posts"}, "$.image_url", "$.items[*].id", "$.items[*].image_url", "$.items[*].created_at"),
		route("video", []string{"/api/video"}, "$.job_id", "$.jobs[*].job_id", "$.jobs[*].created_at"),
		route("default", []string{"/"}),
	}
}

// runDemo runs the demo until ctx is done.
func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	log, err := newLogger(config.Log{Level: o.logLevel, Format: "console"}, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	samples, err := startSamples(log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer samples.stop()

	token := demoAdminToken()
	cfg, err := demoConfig(o, samples.legacyURL, samples.newURL, token)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	seed, err := demoSeed()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: log, Seed: &seed})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var tokens [2]string
	for i, email := range []string{"alice@acme.test", "carol@globex.test"} {
		if tokens[i], err = demoLogin(a.Server.Handler(), email); err != nil {
			a.Close(context.Background())
			return err
		}
	}
	pub, adm, err := listenBoth(cfg.Server.Listen, cfg.Server.AdminListen)
	if err != nil {
		a.Close(context.Background())
		return fmt.Errorf("demo: %w", err)
	}
	b := banner{
		proxy:     "http://" + loopbackAddr(pub.Addr()),
		admin:     "http://" + loopbackAddr(adm.Addr()),
		legacy:    samples.legacyURL,
		newURL:    samples.newURL,
		token:     token,
		acmeKey:   seededKey(a.Seeded, "acme"),
		globexKey: seededKey(a.Seeded, "globex"),
		acmeToken: tokens[0], globexToken: tokens[1],
	}
	if o.traffic {
		b.trafficRate = o.rate
	}
	b.write(stdout)

	var wg sync.WaitGroup
	if o.traffic {
		wg.Go(func() { sendTraffic(ctx, b.proxy, o.rate, []string{"", b.acmeKey, b.globexKey}, log) })
	}
	err = a.Serve(ctx, pub, adm)
	wg.Wait()
	fmt.Fprintln(stdout, "strangler demo stopped")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// samples are the two sample services on loopback ports.
type samples struct {
	legacyURL, newURL string
	servers           []*http.Server
	done              sync.WaitGroup
}

func startSamples(log *zap.Logger) (*samples, error) {
	s := &samples{}
	for _, h := range []http.Handler{sampleapp.NewLegacy(), sampleapp.NewTenantAware()} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("sample service listener: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, srv)
		s.done.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("sample service stopped", zap.Error(err))
			}
		})
		url := "http://" + ln.Addr().String()
		if s.legacyURL == "" {
			s.legacyURL = url
		} else {
			s.newURL = url
		}
	}
	return s, nil
}

// stop closes the sample services after the proxy has drained.
func (s *samples) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
	s.done.Wait()
}

// loopbackAddr is the address a local client uses to reach a listener:
// one bound to every interface (":8080") is reached on 127.0.0.1.
func loopbackAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// banner is what the demo prints once it listens.
type banner struct {
	proxy, admin, legacy, newURL string
	// token is the admin API token; acmeKey and globexKey the seeded
	// API keys of the two customer orgs.
	token, acmeKey, globexKey string
	// acmeToken and globexToken are access tokens of alice (acme owner)
	// and carol (globex owner) from the built-in issuer.
	acmeToken, globexToken string
	trafficRate            float64 // 0: no traffic
}

// curls are the requests the banner shows; the demo's test runs each.
func (b banner) curls() []string {
	p, adm := b.proxy, b.admin
	auth := " -H 'Authorization: Bearer " + b.token + "'"
	return []string{
		"curl -s " + p + "/api/affirmations",
		"curl -s " + p + "/api/affirmations -H 'X-API-Key: " + b.acmeKey + "'",
		"curl -s -X POST " + p + `/api/affirmations -H 'X-API-Key: ` + b.acmeKey + `' -H 'Content-Type: application/json' -d '{"text":"I ship in small steps."}'`,
		"curl -s -X POST " + p + `/api/qa -H 'X-API-Key: ` + b.acmeKey + `' -H 'Content-Type: application/json' -d '{"question":"How do I build a morning ritual?"}'`,
		"curl -sN '" + p + "/api/qa/stream?question=How%20do%20I%20start'",
		"curl -s " + p + "/api/instagram/posts -H 'X-API-Key: " + b.globexKey + "'",
		"curl -s " + p + "/api/context -H 'X-API-Key: " + b.globexKey + "'",
		"curl -s " + p + "/api/context -H 'Authorization: Bearer " + b.globexToken + "'",
		"curl -s " + p + "/auth/me -H 'Authorization: Bearer " + b.acmeToken + "'",
		"curl -s -X POST " + p + `/auth/login -H 'Content-Type: application/json' -d '{"email":"bob@acme.test","password":"` + demoPassword + `"}'`,
		"curl -s " + b.legacy + "/api/affirmations",
		"curl -s " + adm + "/readyz",
		"curl -s " + adm + "/admin/api/flags" + auth,
		"curl -s '" + adm + "/admin/api/shadow/report?org=acme'" + auth,
		"curl -s " + adm + "/metrics | grep '^strangler_'",
	}
}

func (b banner) write(w io.Writer) {
	var sb strings.Builder
	sb.WriteString("\nstrangler demo: the proxy in front of two sample services, in one process\n\n")
	fmt.Fprintf(&sb, "  proxy    %-28s clients call this\n", b.proxy)
	fmt.Fprintf(&sb, "  admin    %-28s /healthz /readyz /metrics /admin/api/\n", b.admin)
	fmt.Fprintf(&sb, "  legacy   %-28s sample single-tenant service (direct)\n", b.legacy)
	fmt.Fprintf(&sb, "  new      %-28s sample tenant-aware service (direct)\n", b.newURL)
	sb.WriteString("\nSeeded (memory store):\n")
	sb.WriteString("  orgs      legacy (default: anonymous and pre-migration callers), acme, globex\n")
	fmt.Fprintf(&sb, "  users     alice@acme.test (owner, platform admin), bob@acme.test (viewer), carol@globex.test (owner); password %q\n", demoPassword)
	fmt.Fprintf(&sb, "  api keys  acme   %s\n", b.acmeKey)
	fmt.Fprintf(&sb, "            globex %s\n", b.globexKey)
	fmt.Fprintf(&sb, "  tokens    acme   %s\n", b.acmeToken)
	fmt.Fprintf(&sb, "            globex %s\n", b.globexToken)
	fmt.Fprintf(&sb, "  admin     token  %s\n", b.token)
	sb.WriteString("  modes     acme: affirmations and qa in shadow; globex: instagram in canary, default on new; the rest legacy\n")
	sb.WriteString("            (/api/context exists only on the new service: it shows the tenant context the proxy forwards)\n")
	sb.WriteString("\nTry:\n")
	for _, c := range b.curls() {
		sb.WriteString("  ")
		sb.WriteString(c)
		sb.WriteString("\n")
	}
	sb.WriteString("\nOps, from another shell:\n")
	fmt.Fprintf(&sb, "  export STRANGLER_ADMIN_URL=%s STRANGLER_ADMIN_TOKEN=%s\n", b.admin, b.token)
	sb.WriteString("  go run ./cmd/strangler flags set --org acme --route affirmations --mode canary --reason \"looks good\"\n")
	sb.WriteString("  go run ./cmd/strangler diffs report --since 1h\n")
	sb.WriteString("  go run ./cmd/strangler kill-switch off --reason \"incident\"\n")
	if b.trafficRate > 0 {
		fmt.Fprintf(&sb, "\nSending sample traffic to the proxy: %g requests/s.\n", b.trafficRate)
	}
	sb.WriteString("\nCtrl-C stops (in-flight requests drain first).\n\n")
	_, _ = io.WriteString(w, sb.String())
}
