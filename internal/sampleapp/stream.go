package sampleapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// streamEvent is the data of one "token" event.
type streamEvent struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// streamDone is the data of the final "done" event.
type streamDone struct {
	ID        string   `json:"id"`
	Answer    string   `json:"answer"`
	Sources   []Source `json:"sources"`
	CreatedAt string   `json:"created_at"`
}

// streamChunks is how many token events an answer is cut into.
const streamChunks = 5

// stream answers a question as server-sent events: a few "token" events
// with a pause between them (the upstream holds the stream open, as an LLM
// does), then "done" with the whole answer. GET takes ?question=, POST a
// JSON body. A client that goes away ends the stream.
func (s *service) stream(w http.ResponseWriter, r *http.Request) {
	var question string
	if r.Method == http.MethodPost {
		var in struct {
			Question string `json:"question"`
		}
		if !readBody(w, r, &in, "question", func() string { return in.Question }) {
			return
		}
		question = in.Question
	} else {
		question = r.URL.Query().Get("question")
		if strings.TrimSpace(question) == "" {
			writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"query", "question"}, Msg: "Field required", Type: "missing"}}})
			return
		}
		if len(question) > maxTextLen {
			writeJSON(w, http.StatusUnprocessableEntity, detail{[]validationError{{Loc: []string{"query", "question"}, Msg: fmt.Sprintf("String should have at most %d characters", maxTextLen), Type: "string_too_long"}}})
			return
		}
	}
	a := s.answerFor(strings.TrimSpace(question))
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.questions++ })
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	words := strings.Fields(a.Answer)
	per := (len(words) + streamChunks - 1) / streamChunks
	timer := time.NewTimer(s.streamDelay)
	defer timer.Stop()
	for i := 0; i*per < len(words); i++ {
		if i > 0 {
			timer.Reset(s.streamDelay)
			select {
			case <-r.Context().Done():
				return
			case <-timer.C:
			}
		}
		end := min((i+1)*per, len(words))
		text := strings.Join(words[i*per:end], " ")
		if end < len(words) {
			text += " "
		}
		if err := writeEvent(w, "token", streamEvent{Index: i, Text: text}); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
	_ = writeEvent(w, "done", streamDone{ID: a.ID, Answer: a.Answer, Sources: a.Sources, CreatedAt: a.CreatedAt})
	_ = rc.Flush()
}

func writeEvent(w http.ResponseWriter, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
	return err
}
