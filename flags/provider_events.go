package flags

import (
	"github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/zap"
)

// eventBuffer is the capacity of a provider's event channel. Events are
// sent without blocking: a provider must never stall its reload loop on a
// slow consumer. A dropped CONFIGURATION_CHANGED loses only the notice,
// never the change (the snapshot is swapped before the event is sent).
const eventBuffer = 64

// eventEmitter is the provider side of openfeature.EventHandler.
type eventEmitter struct {
	name string
	ch   chan openfeature.Event
	log  *zap.Logger
}

func newEventEmitter(name string, log *zap.Logger) *eventEmitter {
	return &eventEmitter{name: name, ch: make(chan openfeature.Event, eventBuffer), log: log}
}

func (e *eventEmitter) emit(t openfeature.EventType, msg string, changed []string) {
	ev := openfeature.Event{
		ProviderName: e.name,
		EventType:    t,
		ProviderEventDetails: openfeature.ProviderEventDetails{
			Message:     msg,
			FlagChanges: changed,
		},
	}
	select {
	case e.ch <- ev:
	default:
		e.log.Warn("flag provider event dropped: channel full",
			zap.String("provider", e.name), zap.String("event", string(t)))
	}
}
