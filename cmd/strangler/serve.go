package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/app"
)

// envConfig is the fallback for serve --config.
const envConfig = "STRANGLER_CONFIG"

func newServeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the proxy",
		Long: `Run the proxy: the public listener (server.listen) in front of the
upstreams, and the admin listener (server.admin_listen) with /healthz,
/readyz and /metrics.

The configuration is validated first; an invalid one is refused with every
problem listed (exit 1). Logs go to stderr. SIGTERM or SIGINT drains: /readyz
turns 503, the listeners close, and in-flight requests get
server.shutdown_grace to finish; a second signal exits at once.`,
		Example: `  strangler serve --config configs/strangler.yaml
  STRANGLER_CONFIG=/etc/strangler.yaml strangler serve`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				path = os.Getenv(envConfig)
			}
			if path == "" {
				return usageError("serve: --config FILE is required (or %s)", envConfig)
			}
			cfg, err := config.Load(path)
			if err != nil {
				return configFailure(cmd.ErrOrStderr(), path, err)
			}
			log, err := newLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			for _, w := range config.Warnings(cfg) {
				log.Warn("configuration warning", zap.String("path", w.Path), zap.String("warning", w.Message))
			}
			return serve(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "configuration file (YAML; env "+envConfig+")")
	return cmd
}

// serve builds the whole application from cfg (stores, authentication,
// flags, shadow engine, proxy), binds both listeners and serves until ctx is
// done, then drains.
func serve(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	pub, adm, err := listenBoth(cfg.Server.Listen, cfg.Server.AdminListen)
	if err != nil {
		a.Close(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	// API keys of the seed file are generated at start: their secrets
	// exist nowhere else, so they are printed once, on stdout (never in
	// the log).
	for _, k := range a.Seeded.APIKeys {
		fmt.Fprintf(os.Stdout, "seeded API key: org=%s project=%s name=%s role=%s key=%s\n", k.Org, k.Project, k.Name, k.Role, k.Key)
	}
	v := readVersion()
	log.Info("listening",
		zap.String("public", pub.Addr().String()),
		zap.String("admin", adm.Addr().String()),
		zap.String("legacy", cfg.Upstreams.Legacy.URL),
		zap.String("new", cfg.Upstreams.New.URL),
		zap.String("store", cfg.Store.Driver),
		zap.String("flags", cfg.Flags.Provider),
		zap.String("version", v.Version),
		zap.String("commit", v.Commit))
	if err := a.Serve(ctx, pub, adm); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// listenBoth binds the public and admin listeners, or neither.
func listenBoth(public, admin string) (net.Listener, net.Listener, error) {
	pub, err := net.Listen("tcp", public)
	if err != nil {
		return nil, nil, fmt.Errorf("public listener: %w", err)
	}
	adm, err := net.Listen("tcp", admin)
	if err != nil {
		_ = pub.Close()
		return nil, nil, fmt.Errorf("admin listener: %w", err)
	}
	return pub, adm, nil
}

// newLogger builds the zap logger of log.level and log.format, writing to
// w. Access logs are never sampled: one line per request is the contract.
func newLogger(l config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(l.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	switch l.Format {
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		encoder = zapcore.NewJSONEncoder(enc)
	}
	sink := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(encoder, sink, level), zap.ErrorOutput(sink)), nil
}
