package shadow

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Retention deletes shadow results older than the retention period (SPEC §4
// shadow.retention) at a fixed interval. Every replica may run it: deleting
// what is already deleted is a no-op.
type Retention struct {
	// Store to clean.
	Store Store
	// Keep is how long results are kept; 0 or less disables retention.
	Keep time.Duration
	// Every is the interval between runs; 0 means one hour.
	Every time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil logs nothing.
	Logger *zap.Logger
}

// Once deletes what is older than Keep now.
func (r *Retention) Once(ctx context.Context) (Deleted, error) {
	if r.Keep <= 0 {
		return Deleted{}, nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	return r.Store.DeleteBefore(ctx, now().Add(-r.Keep))
}

// Run runs Once at start and then every interval until ctx is done.
func (r *Retention) Run(ctx context.Context) {
	log := r.Logger
	if log == nil {
		log = zap.NewNop()
	}
	every := r.Every
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d, err := r.Once(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("shadow: retention", zap.Error(err))
		case err == nil && d != (Deleted{}):
			log.Info("shadow: retention deleted old results",
				zap.Int64("rollups", d.Rollups), zap.Int64("class_hours", d.ClassHours),
				zap.Int64("classes", d.Classes), zap.Int64("exemplars", d.Exemplars), zap.Int64("noise", d.Noise))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
