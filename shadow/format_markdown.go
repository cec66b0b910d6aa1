package shadow

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteReportMarkdown writes a report as GitHub-flavoured Markdown, ready
// to paste into a pull request: a summary table with every verdict, the
// reasons of each NOT READY verdict, and the top diff classes. Every text
// that comes from data (org slugs, routes, paths, notes) is escaped so
// that it cannot break the table or inject markup.
func WriteReportMarkdown(w io.Writer, rep PromotionReport) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### Shadow report %s\n\n", periodText(rep))
	if len(rep.Entries) == 0 {
		fmt.Fprintf(bw, "No comparisons recorded%s in this period.\n\n", mdScope(rep))
		fmt.Fprintf(bw, "_Ready when: %s._\n", thresholdsText(rep.Thresholds, "≥", "≤"))
		return bw.Flush()
	}
	fmt.Fprintf(bw, "**%d of %d READY**%s. Ready when: %s.\n\n", rep.Ready, len(rep.Entries), mdScope(rep),
		thresholdsText(rep.Thresholds, "≥", "≤"))

	withMode := hasModes(rep)
	head, align := "| Org | Route |", "|---|---|"
	if withMode {
		head, align = head+" Mode |", align+"---|"
	}
	fmt.Fprintln(bw, head+" Verdict | Comparisons | Match rate | Error rate | Dropped | Legacy p50 / p99 | New p50 / p99 | Diff classes |")
	fmt.Fprintln(bw, align+"---|--:|--:|--:|--:|--:|--:|---|")
	for _, e := range rep.Entries {
		row := "| " + mdText(orgLabel(e.OrgID, e.OrgSlug)) + " | " + mdText(e.Route) + " |"
		if withMode {
			row += " " + mdText(dashText(e.Mode)) + " |"
		}
		verdict := "**READY**"
		if e.Verdict != VerdictReady {
			verdict = "**NOT READY**"
		}
		fmt.Fprintf(bw, "%s %s | %s | %s | %s | %s | %s | %s | %s |\n", row, verdict, count(e.Comparisons),
			rateText(e.MatchRate, rep.Thresholds.MinMatchRate), rateText(e.CandidateErrorRate, rep.Thresholds.MaxErrorRate),
			count(e.Dropped), mdLatency(e.Latency.Legacy), mdLatency(e.Latency.New), classesText(e))
	}

	first := true
	for _, e := range rep.Entries {
		if e.Verdict == VerdictReady {
			continue
		}
		if first {
			fmt.Fprintf(bw, "\n#### Why not ready\n\n")
			first = false
		}
		fmt.Fprintf(bw, "- **%s / %s**\n", mdText(orgLabel(e.OrgID, e.OrgSlug)), mdText(e.Route))
		for _, r := range e.Reasons {
			fmt.Fprintf(bw, "  - %s\n", mdText(r.Message))
		}
	}

	if len(rep.TopClasses) > 0 {
		fmt.Fprintf(bw, "\n#### Top diff classes\n\n")
		fmt.Fprintln(bw, "| Class | Route | Status | Diffs | Orgs | Differs at |")
		fmt.Fprintln(bw, "|---|---|---|--:|--:|---|")
		for _, c := range rep.TopClasses {
			st := "open"
			if c.Status == StatusAcknowledged {
				st = "acknowledged by " + mdText(c.AckBy) + ": " + mdText(clip(flat(c.AckNote), 80))
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %d | %s |\n", mdCode(c.Fingerprint), mdText(c.Route), st, count(c.Count), c.Orgs,
				patternText(c, mdCode))
		}
	}
	fmt.Fprintf(bw, "\n<sub>Generated %s by <code>strangler diffs report</code>; inspect a class with <code>strangler diffs show FINGERPRINT</code>.</sub>\n",
		timeText(rep.GeneratedAt))
	return bw.Flush()
}

// mdScope is scopeText escaped, with its leading space.
func mdScope(rep PromotionReport) string {
	s := scopeText(rep)
	if s == "" {
		return ""
	}
	return " " + mdText(s)
}

func mdLatency(l LatencyStats) string {
	if l.Samples == 0 {
		return "-"
	}
	return latencyMS(l.P50MS) + " / " + latencyMS(l.P99MS)
}

// mdText escapes text for a Markdown table cell or list item: the
// characters that start markup, the table's pipe, HTML, and line breaks.
func mdText(s string) string {
	s = visible(flat(s))
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case '<':
			sb.WriteString("&lt;")
		case '>':
			sb.WriteString("&gt;")
		case '&':
			sb.WriteString("&amp;")
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// mdCode formats text as inline code in a table cell: a fence longer than
// any backtick run inside, and the pipe escaped (GitHub splits cells on
// pipes even inside code).
func mdCode(s string) string {
	s = visible(flat(s))
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}
