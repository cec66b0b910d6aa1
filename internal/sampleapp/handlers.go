package sampleapp

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
)

func (s *service) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// affirmationList is the answer of GET /api/affirmations.
type affirmationList struct {
	Items []Affirmation `json:"items"`
	Count int           `json:"count"`
	// Language is the deliberate difference: "en" from legacy, "en-US"
	// from the tenant-aware service.
	Language    string `json:"language"`
	GeneratedAt string `json:"generated_at"`
}

func (s *service) listAffirmations(w http.ResponseWriter, r *http.Request) {
	var out affirmationList
	s.with(r, func(d *scopeData) { out.Items = slices.Clone(d.affirmations) })
	out.Count = len(out.Items)
	out.Language = "en"
	if s.tenantAware {
		out.Language = "en-US"
	}
	out.GeneratedAt = s.timestamp()
	writeJSON(w, http.StatusOK, out)
}

func (s *service) createAffirmation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text  string `json:"text"`
		Theme string `json:"theme"`
	}
	if !readBody(w, r, &in, "text", func() string { return in.Text }) {
		return
	}
	a := Affirmation{ID: newID("aff"), Text: strings.TrimSpace(in.Text), Theme: truncate(in.Theme, 64), CreatedAt: s.timestamp()}
	if a.Theme == "" {
		a.Theme = "general"
	}
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.affirmations = appendBounded(d.affirmations, a) })
	}
	writeJSON(w, http.StatusCreated, a)
}

// answerFor is the QA agent: deterministic for a question, so both
// services give the same answer apart from the id and timestamp.
func (s *service) answerFor(question string) Answer {
	h := hash(question)
	kb := knowledgeBase()
	first, second := kb[h%uint64(len(kb))], kb[(h/7+1)%uint64(len(kb))]
	if first.ID == second.ID {
		second = kb[(h+1)%uint64(len(kb))]
	}
	return Answer{
		ID:       newID("ans"),
		Question: question,
		Answer: fmt.Sprintf("On %q the knowledge base suggests starting small, repeating daily and reviewing at the end of each cycle; see %q and %q.",
			question, first.Title, second.Title),
		Sources: []Source{
			{ID: first.ID, Title: first.Title, Score: float64(90-h%10) / 100},
			{ID: second.ID, Title: second.Title, Score: float64(70-h/10%10) / 100},
		},
		CreatedAt: s.timestamp(),
	}
}

func (s *service) ask(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Question string `json:"question"`
	}
	if !readBody(w, r, &in, "question", func() string { return in.Question }) {
		return
	}
	a := s.answerFor(strings.TrimSpace(in.Question))
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.questions++ })
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *service) knowledge(w http.ResponseWriter, _ *http.Request) {
	docs := knowledgeBase()
	writeJSON(w, http.StatusOK, map[string]any{"documents": docs, "count": len(docs)})
}

// strategyFor is the content-strategy agent, deterministic for a goal.
func (s *service) strategyFor(goal string) *Strategy {
	pillars := []string{"education", "behind the scenes", "community", "inspiration", "product", "stories"}
	h := hash(goal)
	st := &Strategy{ID: newID("cs"), Goal: goal, GeneratedAt: s.timestamp()}
	for i := range 3 {
		st.Pillars = append(st.Pillars, pillars[(h+uint64(i)*2)%uint64(len(pillars))])
	}
	for i, day := range []string{"monday", "wednesday", "friday"} {
		format := []string{"carousel", "reel", "story"}[(h+uint64(i))%3]
		st.Plan = append(st.Plan, PlanItem{Day: day, Format: format, Caption: fmt.Sprintf("%s: %s for %q", strings.ToUpper(day[:1])+day[1:], st.Pillars[i], goal)})
	}
	return st
}

const defaultGoal = "grow an engaged audience"

func (s *service) getStrategy(w http.ResponseWriter, r *http.Request) {
	var st Strategy
	s.with(r, func(d *scopeData) {
		if d.strategy != nil {
			st = *d.strategy
		}
	})
	if st.ID == "" {
		st = *s.strategyFor(defaultGoal)
	}
	st.GeneratedAt = s.timestamp()
	writeJSON(w, http.StatusOK, st)
}

func (s *service) makeStrategy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Goal string `json:"goal"`
	}
	if !readBody(w, r, &in, "goal", func() string { return in.Goal }) {
		return
	}
	st := s.strategyFor(strings.TrimSpace(in.Goal))
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.strategy = st })
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *service) listPosts(w http.ResponseWriter, r *http.Request) {
	var posts []Post
	s.with(r, func(d *scopeData) { posts = slices.Clone(d.posts) })
	writeJSON(w, http.StatusOK, map[string]any{"posts": posts, "count": len(posts)})
}

func (s *service) createPost(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Caption string `json:"caption"`
	}
	if !readBody(w, r, &in, "caption", func() string { return in.Caption }) {
		return
	}
	p := Post{ID: newID("ig"), Caption: strings.TrimSpace(in.Caption), Status: "draft", CreatedAt: s.timestamp()}
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.posts = appendBounded(d.posts, p) })
	}
	writeJSON(w, http.StatusCreated, p)
}

func (s *service) listVisuals(w http.ResponseWriter, r *http.Request) {
	var items []Visual
	s.with(r, func(d *scopeData) { items = slices.Clone(d.visuals) })
	if items == nil {
		items = []Visual{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
}

func (s *service) createVisual(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Prompt string `json:"prompt"`
	}
	if !readBody(w, r, &in, "prompt", func() string { return in.Prompt }) {
		return
	}
	id := newID("vis")
	v := Visual{ID: id, Prompt: strings.TrimSpace(in.Prompt), ImageURL: "https://cdn.example.com/visual-posts/" + id + ".png", CreatedAt: s.timestamp()}
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.visuals = appendBounded(d.visuals, v) })
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *service) listVideos(w http.ResponseWriter, r *http.Request) {
	var jobs []VideoJob
	s.with(r, func(d *scopeData) { jobs = slices.Clone(d.videos) })
	if jobs == nil {
		jobs = []VideoJob{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "count": len(jobs)})
}

func (s *service) createVideo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Script string `json:"script"`
	}
	if !readBody(w, r, &in, "script", func() string { return in.Script }) {
		return
	}
	j := VideoJob{JobID: newID("vid"), Script: strings.TrimSpace(in.Script), Status: "queued", EtaSeconds: 30 + len(in.Script)%60, CreatedAt: s.timestamp()}
	if !s.dryRun(r) {
		s.with(r, func(d *scopeData) { d.videos = appendBounded(d.videos, j) })
	}
	writeJSON(w, http.StatusAccepted, j)
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}
