package sampleapp

// The records of the API. Field order is the JSON order, the same in both
// services, so their answers compare equal apart from volatile fields.

// Affirmation is one affirmation.
type Affirmation struct {
	ID        string `json:"id"`
	Text      string `json:"text"`
	Theme     string `json:"theme"`
	CreatedAt string `json:"created_at"`
}

// Source is a knowledge-base document an answer cites.
type Source struct {
	ID    string  `json:"id"`
	Title string  `json:"title"`
	Score float64 `json:"score"`
}

// Answer is the QA agent's reply.
type Answer struct {
	ID        string   `json:"id"`
	Question  string   `json:"question"`
	Answer    string   `json:"answer"`
	Sources   []Source `json:"sources"`
	CreatedAt string   `json:"created_at"`
}

// PlanItem is one day of a content plan.
type PlanItem struct {
	Day     string `json:"day"`
	Format  string `json:"format"`
	Caption string `json:"caption"`
}

// Strategy is a content plan.
type Strategy struct {
	ID          string     `json:"id"`
	Goal        string     `json:"goal"`
	Pillars     []string   `json:"pillars"`
	Plan        []PlanItem `json:"plan"`
	GeneratedAt string     `json:"generated_at"`
}

// Post is an Instagram draft.
type Post struct {
	ID        string `json:"id"`
	Caption   string `json:"caption"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

// Visual is a generated image for a post.
type Visual struct {
	ID        string `json:"id"`
	Prompt    string `json:"prompt"`
	ImageURL  string `json:"image_url"`
	CreatedAt string `json:"created_at"`
}

// VideoJob is a queued video rendering.
type VideoJob struct {
	JobID      string `json:"job_id"`
	Script     string `json:"script"`
	Status     string `json:"status"`
	EtaSeconds int    `json:"eta_seconds"`
	CreatedAt  string `json:"created_at"`
}

// Document is a knowledge-base entry.
type Document struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// seedTime is the creation time of seeded records: fixed, so both services
// list them identically.
const seedTime = "2025-01-06T09:00:00Z"

// knowledgeBase is the fixed document list of both services.
func knowledgeBase() []Document {
	return []Document{
		{ID: "kb_cycles", Title: "The seven cycles of growth"},
		{ID: "kb_morning", Title: "Morning rituals that stick"},
		{ID: "kb_voice", Title: "Finding your brand voice"},
		{ID: "kb_reels", Title: "Short video that converts"},
	}
}

// scopeData is the data of one organization (of the whole legacy app).
// It is guarded by the service's mutex.
type scopeData struct {
	affirmations []Affirmation
	posts        []Post
	visuals      []Visual
	videos       []VideoJob
	strategy     *Strategy
	questions    int
}

func newScopeData() *scopeData {
	return &scopeData{
		affirmations: []Affirmation{
			{ID: "aff_seed_1", Text: "I grow a little every day.", Theme: "growth", CreatedAt: seedTime},
			{ID: "aff_seed_2", Text: "My work creates value for others.", Theme: "purpose", CreatedAt: seedTime},
			{ID: "aff_seed_3", Text: "I welcome change as a teacher.", Theme: "change", CreatedAt: seedTime},
		},
		posts: []Post{
			{ID: "ig_seed_1", Caption: "Monday reset: three intentions for the week.", Status: "published", CreatedAt: seedTime},
		},
	}
}

// appendBounded appends v and drops the oldest entries beyond maxItems.
func appendBounded[T any](list []T, v T) []T {
	list = append(list, v)
	if len(list) > maxItems {
		list = append(list[:0:0], list[len(list)-maxItems:]...)
	}
	return list
}
