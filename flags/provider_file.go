package flags

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/zap"
)

// FileProviderName is the provider name in OpenFeature metadata and events.
const FileProviderName = "strangler-file"

// FileProviderOptions configure a FileProvider. The zero value is usable.
type FileProviderOptions struct {
	// Logger receives reloads and invalid files. Default: no-op.
	Logger *zap.Logger
	// Debounce waits for a burst of file events (an editor's write,
	// rename, chmod) to settle before reloading once. Default 100ms.
	Debounce time.Duration
	// PollInterval re-reads the file periodically in addition to file
	// events, for file systems where events do not arrive (NFS, some
	// container mounts). Default 0: events only, unless the watcher cannot
	// be created, then 2s.
	PollInterval time.Duration
	// Now is the clock of $flagd.timestamp. Default time.Now.
	Now func() time.Time
}

// FileProvider is the OpenFeature provider over a flagd flag-definition
// file (SPEC §8 "file"). The file is parsed and validated as a whole
// (ParseFlagd); evaluation reads the parsed set from memory.
//
// The file's directory is watched (fsnotify), so editors that replace the
// file by renaming a new one over it, and Kubernetes ConfigMap symlink
// swaps, are seen; events are debounced and the file is re-read only when
// its content changed. An invalid file (or a missing one) keeps the last
// good state, is logged, makes the provider STALE (reason CACHED) and is
// reported by Err for /readyz; a later valid file clears it (READY) and
// emits PROVIDER_CONFIGURATION_CHANGED with the flags that changed.
type FileProvider struct {
	path   string
	opts   FileProviderOptions
	events *eventEmitter

	set   atomic.Pointer[FlagSet]
	stale atomic.Bool

	mu          sync.Mutex // guards the fields below
	err         error      // the last load's error, nil when the file in force is the file on disk
	lastAttempt [sha256.Size]byte
	attempted   bool
	started     bool
	cancel      context.CancelFunc
	done        chan struct{}
}

var (
	_ openfeature.FeatureProvider          = (*FileProvider)(nil)
	_ openfeature.ContextAwareStateHandler = (*FileProvider)(nil)
	_ openfeature.EventHandler             = (*FileProvider)(nil)
)

// NewFileProvider returns a provider for the flag file at path; nothing is
// read until the OpenFeature API initialises it.
func NewFileProvider(path string, opts FileProviderOptions) *FileProvider {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &FileProvider{path: path, opts: opts, events: newEventEmitter(FileProviderName, opts.Logger)}
}

// Err is for /readyz: nil when the file on disk is the state in force, else
// why it could not be loaded (the last good state, if any, is still
// served).
func (p *FileProvider) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Metadata implements openfeature.FeatureProvider.
func (p *FileProvider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: FileProviderName}
}

// Hooks implements openfeature.FeatureProvider: none.
func (p *FileProvider) Hooks() []openfeature.Hook { return nil }

// EventChannel implements openfeature.EventHandler.
func (p *FileProvider) EventChannel() <-chan openfeature.Event { return p.events.ch }

// Init implements openfeature.StateHandler.
func (p *FileProvider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// Shutdown implements openfeature.StateHandler.
func (p *FileProvider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// InitWithContext loads the file and starts watching it. A file that
// cannot be loaded is returned as the error (the SDK then marks the
// provider ERROR) but watching continues, and a later valid file makes the
// provider READY.
func (p *FileProvider) InitWithContext(_ context.Context, _ openfeature.EvaluationContext) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("file provider: already initialised")
	}
	p.started = true
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()

	// Watch before the first read, so a change right after it is not lost.
	watcher, werr := fsnotify.NewWatcher()
	if werr == nil {
		if werr = watcher.Add(filepath.Dir(p.path)); werr != nil {
			_ = watcher.Close()
			watcher = nil
		}
	}
	poll := p.opts.PollInterval
	if werr != nil {
		p.opts.Logger.Warn("cannot watch the flag file's directory: polling instead",
			zap.String("path", p.path), zap.Error(werr))
		if poll <= 0 {
			poll = 2 * time.Second
		}
	}
	p.reload()
	go p.watch(runCtx, watcher, poll)
	if err := p.Err(); err != nil && p.set.Load() == nil {
		return fmt.Errorf("file provider: %w", err)
	}
	return nil
}

// ShutdownWithContext stops watching.
func (p *FileProvider) ShutdownWithContext(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("file provider: shutdown: %w", ctx.Err())
	}
}

func (p *FileProvider) watch(ctx context.Context, w *fsnotify.Watcher, poll time.Duration) {
	defer close(p.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	var pollC <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		pollC = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	base := filepath.Base(p.path)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			name := filepath.Base(ev.Name)
			// Our file, or a Kubernetes atomic-writer swap (..data).
			if name == base || strings.HasPrefix(name, "..") {
				debounce.Reset(p.opts.Debounce)
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			p.opts.Logger.Warn("flag file watcher error", zap.String("path", p.path), zap.Error(err))
			debounce.Reset(p.opts.Debounce) // events may have been lost
		case <-debounce.C:
			p.reload()
		case <-pollC:
			p.reload()
		}
	}
}

// reload reads and parses the file if its content changed since the last
// attempt, and applies it or records why not.
func (p *FileProvider) reload() {
	data, readErr := readFlagFile(p.path)
	sum := sha256.Sum256(data)
	p.mu.Lock()
	defer p.mu.Unlock()
	if readErr == nil && p.attempted && sum == p.lastAttempt {
		return // unchanged content: nothing to do, whatever the last outcome
	}
	var set *FlagSet
	err := readErr
	if err == nil {
		p.attempted, p.lastAttempt = true, sum
		set, err = ParseFlagd(data)
	} else {
		p.attempted = false // re-read once the file is back, even if unchanged
	}
	if err != nil {
		p.err = fmt.Errorf("flag file %s: %w", p.path, err)
		if p.set.Load() == nil {
			p.opts.Logger.Error("flag file cannot be loaded: no flags served", zap.Error(p.err))
			return
		}
		p.opts.Logger.Error("flag file cannot be loaded: keeping the last good state", zap.Error(p.err))
		if !p.stale.Swap(true) {
			p.events.emit(openfeature.ProviderStale, p.err.Error(), nil)
		}
		return
	}
	hadError := p.err != nil
	p.err = nil
	prev := p.set.Swap(set)
	changed := set.diff(prev)
	p.opts.Logger.Info("flag file loaded", zap.String("path", p.path), zap.Int("flags", len(set.Flags)),
		zap.Strings("changed", changed))
	if p.stale.Swap(false) || (prev == nil && hadError) {
		p.events.emit(openfeature.ProviderReady, "flag file valid again", nil)
	}
	if prev != nil && len(changed) > 0 {
		p.events.emit(openfeature.ProviderConfigChange, "flag file changed", changed)
	}
}

// readFlagFile reads at most maxFlagFileBytes (+1 to detect more).
func readFlagFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFlagFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxFlagFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidFlagFile, maxFlagFileBytes)
	}
	return data, nil
}

// BooleanEvaluation implements openfeature.FeatureProvider.
func (p *FileProvider) BooleanEvaluation(_ context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return evaluateFile(p, flag, def, flat)
}

// StringEvaluation implements openfeature.FeatureProvider.
func (p *FileProvider) StringEvaluation(_ context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return evaluateFile(p, flag, def, flat)
}

// FloatEvaluation implements openfeature.FeatureProvider.
func (p *FileProvider) FloatEvaluation(_ context.Context, flag string, def float64, flat openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return evaluateFile(p, flag, def, flat)
}

// IntEvaluation implements openfeature.FeatureProvider: number variants
// that are whole.
func (p *FileProvider) IntEvaluation(_ context.Context, flag string, def int64, flat openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return evaluateFile(p, flag, def, flat)
}

// ObjectEvaluation implements openfeature.FeatureProvider: any variant.
func (p *FileProvider) ObjectEvaluation(_ context.Context, flag string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return evaluateFile(p, flag, def, flat)
}

func evaluateFile[T any](p *FileProvider, flag string, def T, flat openfeature.FlattenedContext) openfeature.GenericResolutionDetail[T] {
	set := p.set.Load()
	if set == nil {
		return openfeature.GenericResolutionDetail[T]{Value: def,
			ProviderResolutionDetail: resolutionError(openfeature.ProviderNotReadyCode, flag)}
	}
	f, ok := set.Flags[flag]
	if !ok {
		return openfeature.GenericResolutionDetail[T]{Value: def,
			ProviderResolutionDetail: resolutionError(openfeature.FlagNotFoundCode, flag)}
	}
	meta := openfeature.FlagMetadata(f.Metadata)
	r := f.evaluate(flat, p.opts.Now())
	if r.code != "" {
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewGeneralResolutionError(r.msg), Reason: openfeature.ErrorReason, FlagMetadata: meta}}
	}
	reason := r.reason
	if p.stale.Load() && reason != openfeature.DisabledReason {
		reason = openfeature.CachedReason
	}
	if r.useDefault {
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			Reason: reason, FlagMetadata: meta}}
	}
	v, ok := typedValue[T](r.value)
	if !ok {
		d := resolutionError(openfeature.TypeMismatchCode, flag)
		d.FlagMetadata = meta
		return openfeature.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: d}
	}
	return openfeature.GenericResolutionDetail[T]{Value: v, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: reason, Variant: r.variant, FlagMetadata: meta}}
}
