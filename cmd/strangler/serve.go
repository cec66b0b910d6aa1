package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

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
			logs, err := newLoggers(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer logs.close()
			for _, w := range config.Warnings(cfg) {
				logs.main.Warn("configuration warning", zap.String("path", w.Path), zap.String("warning", w.Message))
			}
			return serve(cmd.Context(), cfg, logs)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "configuration file (YAML; env "+envConfig+")")
	return cmd
}

// serve builds the whole application from cfg (stores, authentication,
// flags, shadow engine, proxy), binds both listeners and serves until ctx is
// done, then drains.
func serve(ctx context.Context, cfg *config.Config, logs *loggers) error {
	log := logs.main
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: log, AccessLogger: logs.access})
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

// Access log batching: lines reach the output at most this late, or when
// this much is waiting (strangler serve; flushed when it stops).
const (
	accessLogFlush  = time.Second
	accessLogBuffer = 64 << 10
)

// loggers are strangler serve's: main for everything but the access log,
// access for one line per request, written in batches. A write per request
// was ~15 µs of the proxy's CPU per request on a 2-core VM (make bench,
// -access-log on vs off). Both write through one lock, so a batch and a
// line of the main log never interleave.
type loggers struct {
	main, access *zap.Logger
	buffered     *zapcore.BufferedWriteSyncer
}

// newLoggers builds the loggers of log.level and log.format, writing to w.
func newLoggers(l config.Log, w io.Writer) (*loggers, error) {
	return newLoggersFlushing(l, w, accessLogFlush)
}

// newLoggersFlushing is newLoggers with the access log's flush interval.
func newLoggersFlushing(l config.Log, w io.Writer, flush time.Duration) (*loggers, error) {
	encoder, level, err := logEncoding(l)
	if err != nil {
		return nil, err
	}
	sink := zapcore.Lock(zapcore.AddSync(w))
	buffered := &zapcore.BufferedWriteSyncer{WS: sink, Size: accessLogBuffer, FlushInterval: flush}
	return &loggers{
		main:     zap.New(zapcore.NewCore(encoder, sink, level), zap.ErrorOutput(sink)),
		access:   zap.New(zapcore.NewCore(encoder.Clone(), buffered, level), zap.ErrorOutput(sink)),
		buffered: buffered,
	}, nil
}

// close writes what the access log holds and syncs the main log.
func (l *loggers) close() {
	_ = l.buffered.Stop()
	_ = l.main.Sync()
}

// newLogger builds the zap logger of log.level and log.format, writing to
// w. Access logs are never sampled: one line per request is the contract.
func newLogger(l config.Log, w io.Writer) (*zap.Logger, error) {
	encoder, level, err := logEncoding(l)
	if err != nil {
		return nil, err
	}
	sink := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(encoder, sink, level), zap.ErrorOutput(sink)), nil
}

// logEncoding is the encoder and level of log.format and log.level.
func logEncoding(l config.Log) (zapcore.Encoder, zapcore.Level, error) {
	level, err := zapcore.ParseLevel(l.Level)
	if err != nil {
		return nil, level, fmt.Errorf("log.level: %w", err)
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
	return encoder, level, nil
}
