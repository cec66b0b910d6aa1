package shadow

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteReportTable writes a report for a terminal: the period and
// thresholds, one row per org × route, every reason of each NOT READY
// verdict with the classes behind it, and the top diff classes.
func WriteReportTable(w io.Writer, rep PromotionReport) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Shadow report %s\n", periodText(rep))
	fmt.Fprintf(bw, "Ready when: %s\n", thresholdsText(rep.Thresholds, "at least", "at most"))
	if len(rep.Entries) == 0 {
		fmt.Fprintf(bw, "\nNo comparisons recorded%s in this period.\n", scopeText(rep))
		return bw.Flush()
	}
	fmt.Fprintf(bw, "%d of %d READY%s\n\n", rep.Ready, len(rep.Entries), scopeText(rep))

	withMode := hasModes(rep)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	header := "ORG\tROUTE\t"
	if withMode {
		header += "MODE\t"
	}
	fmt.Fprintln(tw, header+"VERDICT\tCOMPARISONS\tMATCH\tERRORS\tDROPPED\tLEGACY P50/P99\tNEW P50/P99\tCLASSES")
	for _, e := range rep.Entries {
		row := orgLabel(e.OrgID, e.OrgSlug) + "\t" + visible(e.Route) + "\t"
		if withMode {
			row += dashText(e.Mode) + "\t"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row, e.Verdict, count(e.Comparisons),
			rateText(e.MatchRate, rep.Thresholds.MinMatchRate), rateText(e.CandidateErrorRate, rep.Thresholds.MaxErrorRate),
			count(e.Dropped), latencyPair(e.Latency.Legacy), latencyPair(e.Latency.New), classesText(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	for _, e := range rep.Entries {
		if e.Verdict == VerdictReady && len(e.TopClasses) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s / %s: %s\n", orgLabel(e.OrgID, e.OrgSlug), visible(e.Route), e.Verdict)
		for _, r := range e.Reasons {
			fmt.Fprintf(bw, "  - %s\n", r.Message)
		}
		if e.TooLarge > 0 {
			fmt.Fprintf(bw, "  note: %s comparisons dropped because a body exceeded max_body_bytes\n", count(e.TooLarge))
		}
		writeBriefs(bw, "  ", e.TopClasses, false)
	}

	if len(rep.TopClasses) > 0 {
		fmt.Fprintf(bw, "\nTop diff classes (strangler diffs show FINGERPRINT):\n")
		writeBriefs(bw, "  ", rep.TopClasses, true)
	}
	return bw.Flush()
}

// writeBriefs lists classes as an aligned table.
func writeBriefs(w io.Writer, indent string, cs []ClassBrief, withOrgs bool) {
	if len(cs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cs {
		row := indent + visible(c.Fingerprint) + "\t" + visible(c.Route) + "\t" + statusText(c) + "\t" + counted(c.Count, "diff", "diffs") + "\t"
		if withOrgs {
			row += plural(c.Orgs, "org") + "\t"
		}
		fmt.Fprintln(tw, row+patternText(c, func(s string) string { return visible(s) }))
	}
	_ = tw.Flush()
}

func statusText(c ClassBrief) string {
	if c.Status == StatusAcknowledged {
		return "acknowledged by " + visible(c.AckBy) + ": " + clip(visible(flat(c.AckNote)), 60)
	}
	return "open"
}

// patternText lists a class's differing paths and kinds, with how many
// more it has; code formats a path.
func patternText(c ClassBrief, code func(string) string) string {
	parts := make([]string, 0, len(c.Pattern)+1)
	for _, pk := range c.Pattern {
		parts = append(parts, code(pk.Path)+" "+visible(string(pk.Kind)))
	}
	if more := c.PatternSize - len(c.Pattern); more > 0 {
		parts = append(parts, fmt.Sprintf("+%d more", more))
	}
	return strings.Join(parts, ", ")
}

func periodText(rep PromotionReport) string {
	if rep.Since.IsZero() {
		return "of everything retained, up to " + timeText(rep.Until)
	}
	return "from " + timeText(rep.Since) + " to " + timeText(rep.Until)
}

func scopeText(rep PromotionReport) string {
	var parts []string
	if rep.OrgID != "" {
		parts = append(parts, "org "+orgLabel(rep.OrgID, rep.OrgSlug))
	}
	if rep.Route != "" {
		parts = append(parts, "route "+visible(rep.Route))
	}
	if len(parts) == 0 {
		return ""
	}
	return " for " + strings.Join(parts, ", ")
}

func thresholdsText(t Thresholds, atLeast, atMost string) string {
	return fmt.Sprintf("%s %s comparisons, match rate %s %s, candidate error rate %s %s, no open diff class",
		atLeast, count(t.MinComparisons), atLeast, percent(t.MinMatchRate), atMost, percent(t.MaxErrorRate))
}

func hasModes(rep PromotionReport) bool {
	for _, e := range rep.Entries {
		if e.Mode != "" {
			return true
		}
	}
	return false
}

func rateText(r *float64, threshold float64) string {
	if r == nil {
		return "-"
	}
	return percentVs(*r, threshold)
}

func latencyPair(l LatencyStats) string {
	if l.Samples == 0 {
		return "-"
	}
	return latencyMS(l.P50MS) + "/" + latencyMS(l.P99MS)
}

func classesText(e RouteReport) string {
	switch {
	case e.OpenClasses == 0 && e.AcknowledgedClasses == 0:
		return "-"
	case e.AcknowledgedClasses == 0:
		return fmt.Sprintf("%d open", e.OpenClasses)
	}
	return fmt.Sprintf("%d open, %d acknowledged", e.OpenClasses, e.AcknowledgedClasses)
}

func dashText(s string) string {
	if s == "" {
		return "-"
	}
	return visible(s)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// WriteClassListTable writes a class listing for a terminal.
func WriteClassListTable(w io.Writer, l ClassList) error {
	bw := bufio.NewWriter(w)
	if l.Since.IsZero() {
		fmt.Fprintf(bw, "Diff classes of everything retained, up to %s\n", timeText(l.Until))
	} else {
		fmt.Fprintf(bw, "Diff classes from %s to %s\n", timeText(l.Since), timeText(l.Until))
	}
	if len(l.Classes) == 0 {
		fmt.Fprintln(bw, "none")
		return bw.Flush()
	}
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINGERPRINT\tROUTE\tSTATUS\tDIFFS\tORGS\tLAST SEEN\tDIFFERS AT")
	for _, c := range l.Classes {
		b := brief(c, c.Count, len(c.Orgs))
		st := "open"
		if c.Status == StatusAcknowledged {
			st = "acknowledged"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", visible(c.Fingerprint), visible(c.Route), st, count(c.Count), len(c.Orgs),
			timeText(c.LastSeen), patternText(b, func(s string) string { return visible(s) }))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
