package config

import (
	"fmt"
	"sort"
	"strings"
)

// maxProblems bounds how many problems one Parse collects, so a hostile or
// badly broken file cannot make the report (or the work) unbounded.
const maxProblems = 200

// Problem is one thing wrong with (or, for Warnings, worth knowing about) a
// configuration, located by its YAML path.
type Problem struct {
	// Path is the YAML path of the offending key, such as
	// "routes[2].auth" or "tenancy.roles.admin[1]"; empty for problems of
	// the document itself (YAML syntax).
	Path string
	// Line is the 1-based line in the file, 0 when unknown (configurations
	// built in code, or a value that came from a default).
	Line int
	// Column is the 1-based column of Line, 0 when unknown; it orders
	// problems that share a line and is not rendered.
	Column int
	// Message says what is wrong and, where possible, what is expected.
	Message string
}

// String renders "path: message (line N)".
func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Error is an invalid configuration: every problem found, in file order.
type Error struct {
	// Problems is never empty.
	Problems []Problem
}

// Error renders all problems, one per line after a summary.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects problems up to maxProblems.
type problems struct {
	list      []Problem
	truncated bool
}

// pos is a position in the file; the zero pos is unknown.
type pos struct{ line, col int }

func (ps *problems) add(path string, at pos, format string, args ...any) {
	if len(ps.list) >= maxProblems {
		ps.truncated = true
		return
	}
	ps.list = append(ps.list, Problem{Path: path, Line: at.line, Column: at.col, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was collected, else an *Error with the
// problems in file order (problems without a line last, in the order found).
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := append([]Problem(nil), ps.list...)
	key := func(p Problem) (int, int) {
		if p.Line == 0 {
			return int(^uint(0) >> 1), 0
		}
		return p.Line, p.Column
	}
	sort.SliceStable(list, func(i, j int) bool {
		li, ci := key(list[i])
		lj, cj := key(list[j])
		return li < lj || (li == lj && ci < cj)
	})
	if ps.truncated {
		list = append(list, Problem{Message: fmt.Sprintf("too many problems; stopped after %d", maxProblems)})
	}
	return &Error{Problems: list}
}
