package shadow

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// ClassTextOptions tune WriteClassText.
type ClassTextOptions struct {
	// Exemplar is the index of the exemplar shown side by side (0: the
	// newest).
	Exemplar int
	// MaxRows bounds the body rows shown; 0 means 200.
	MaxRows int
	// Width is the width of each side in characters; 0 means 48.
	Width int
}

// WriteClassText writes a diff class for a terminal: what it is, who it
// affects, the noise learned for its route, and one exemplar side by side
// — request line, both statuses and latencies, the headers that differ,
// both bodies aligned by path with the differing paths marked — followed by
// every recorded difference with both values.
func WriteClassText(w io.Writer, v ClassView, opts ClassTextOptions) error {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 200
	}
	if opts.Width <= 0 {
		opts.Width = 48
	}
	bw := bufio.NewWriter(w)
	c := v.Class
	status := "OPEN"
	if c.Status == StatusAcknowledged {
		status = "ACKNOWLEDGED"
	}
	fmt.Fprintf(bw, "diff class %s  route %s  %s\n", visible(c.Fingerprint), visible(c.Route), status)
	fmt.Fprintf(bw, "  %s in retained hours (%s since first seen); first seen %s, last seen %s\n",
		counted(c.Count, "diff", "diffs"), count(c.Total), timeText(c.FirstSeen), timeText(c.LastSeen))
	if c.Status == StatusAcknowledged {
		fmt.Fprintf(bw, "  acknowledged by %s at %s: %s\n", visible(c.AckBy), timeText(c.AckAt), visible(flat(c.AckNote)))
	}
	orgs := make([]string, 0, len(c.Orgs))
	for _, o := range c.Orgs {
		orgs = append(orgs, fmt.Sprintf("%s (%s)", orgLabel(o.OrgID, v.OrgSlugs[o.OrgID]), count(o.Count)))
	}
	if len(orgs) == 0 {
		orgs = append(orgs, "none in retained hours")
	}
	fmt.Fprintf(bw, "  orgs affected: %s\n", strings.Join(orgs, ", "))
	fmt.Fprintf(bw, "  differs at:\n")
	for _, pk := range c.Pattern {
		fmt.Fprintf(bw, "    %c %s %s\n", markOf(pk.Kind), visible(pk.Path), visible(string(pk.Kind)))
	}
	if len(v.Noise) == 0 {
		fmt.Fprintf(bw, "  noise learned for route %s: none\n", visible(c.Route))
	} else {
		fmt.Fprintf(bw, "  noise learned for route %s (not counted as differences):\n", visible(c.Route))
		for _, n := range v.Noise {
			fmt.Fprintf(bw, "    %s (seen %s times, last %s)\n", visible(n.Path), count(n.Count), timeText(n.LastSeen))
		}
	}
	fmt.Fprintln(bw)
	if len(v.Exemplars) == 0 {
		fmt.Fprintln(bw, "no exemplar kept (a few per class per day are kept, and they age out with retention)")
		return bw.Flush()
	}
	i := min(max(opts.Exemplar, 0), len(v.Exemplars)-1)
	writeExemplar(bw, v.Exemplars[i], i, len(v.Exemplars), v.OrgSlugs, opts)
	return bw.Flush()
}

func writeExemplar(w *bufio.Writer, ex Exemplar, i, n int, slugs map[string]string, opts ClassTextOptions) {
	fmt.Fprintf(w, "exemplar %d of %d: %s, org %s, served by %s\n", i+1, n, timeText(ex.At), orgLabel(ex.OrgID, slugs[ex.OrgID]), visible(string(ex.Serving)))
	target := ex.Request.Path
	if ex.Request.Query != "" {
		target += "?" + ex.Request.Query
	}
	fmt.Fprintf(w, "  %s %s\n", visible(ex.Request.Method), visible(target))
	if lines := textLines(ex.Request.Body); len(lines) > 0 {
		shown := lines[:min(len(lines), 10)]
		for _, l := range shown {
			fmt.Fprintf(w, "  > %s\n", clip(l, 2*opts.Width))
		}
		if len(lines) > len(shown) {
			fmt.Fprintf(w, "  > … %d more lines\n", len(lines)-len(shown))
		}
	}
	fmt.Fprintln(w)

	rows := []sbsRow{{markSame, "legacy (primary)", "new (candidate)"}}
	statusMark := byte(markSame)
	for _, d := range ex.Differences {
		if d.Path == "status" {
			statusMark = markChanged
		}
	}
	rows = append(rows,
		sbsRow{statusMark, "status " + strconv.Itoa(ex.Primary.Status), "status " + strconv.Itoa(ex.Candidate.Status)},
		sbsRow{markSame, "latency " + latencyMS(ex.Primary.LatencyMS), "latency " + latencyMS(ex.Candidate.LatencyMS)})
	hrows, same := headerRows(ex.Primary.Header, ex.Candidate.Header, ex.Differences)
	rows = append(rows, hrows...)
	if same > 0 {
		rows = append(rows, sbsRow{markSame, "(" + counted(int64(same), "identical header", "identical headers") + ")", ""})
	}
	writeRows(w, rows, opts.Width)
	fmt.Fprintln(w)
	body := bodyRows(ex.Primary.Body, ex.Candidate.Body, ex.Differences)
	if len(body) == 0 {
		fmt.Fprintln(w, "  (both bodies empty)")
	} else {
		shown := body[:min(len(body), opts.MaxRows)]
		writeRows(w, shown, opts.Width)
		if len(body) > len(shown) {
			fmt.Fprintf(w, "     … %d more rows (--format json has the whole exemplar)\n", len(body)-len(shown))
		}
	}
	fmt.Fprintf(w, "\n  %c changed   %c added (new only)   %c removed (legacy only)   %c differs but ignored (rule or noise)\n\n",
		markChanged, markAdded, markRemoved, markIgnored)

	fmt.Fprintf(w, "differences (%d):\n", len(ex.Differences))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tPATH\tKIND\tLEGACY\tNEW")
	for _, d := range ex.Differences {
		fmt.Fprintf(tw, "  %c\t%s\t%s\t%s\t%s\n", markOf(d.Kind), visible(d.Path), visible(string(d.Kind)),
			rawText(d.Primary, opts.Width), rawText(d.Candidate, opts.Width))
	}
	_ = tw.Flush()
}

// writeRows writes side-by-side rows, each side clipped to width.
func writeRows(w io.Writer, rows []sbsRow, width int) {
	for _, r := range rows {
		line := fmt.Sprintf("  %c  %-*s | %s", r.mark, width, clip(r.left, width), clip(r.right, width))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// clip shortens s to n characters with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// rawText shows a difference value: (absent) when missing.
func rawText(raw []byte, width int) string {
	if len(raw) == 0 {
		return "(absent)"
	}
	return clip(visible(string(raw)), width)
}

func latencyMS(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return latency(time.Duration(ms * float64(time.Millisecond)))
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// orgLabel names an organization: its slug when known, else its id; the
// comparisons without an organization show as "(none)".
func orgLabel(id, slug string) string {
	switch {
	case slug != "":
		return visible(slug)
	case id == "":
		return "(none)"
	}
	return visible(id)
}

// flat keeps free text on one line.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }
