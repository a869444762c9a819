package loadgen

import (
	"fmt"
	"io"
	"strings"
)

// Progress reports measurement windows as they finish. On a terminal it
// keeps one line, rewritten in place with a carriage return; elsewhere
// (a log file, a pipe) it writes one line per window. A nil *Progress
// writes nothing.
type Progress struct {
	w        io.Writer
	terminal bool
	width    int // length of the line on screen (terminal only)
}

// NewProgress returns a Progress writing to w, which should be stderr so
// that stdout keeps only the results.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// Update shows a new status line.
func (p *Progress) Update(format string, args ...any) {
	if p == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	if !p.terminal {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(p.width-len(line), 0)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.width = len(line)
}

// Clear removes the status line from a terminal.
func (p *Progress) Clear() {
	if p == nil || !p.terminal || p.width == 0 {
		return
	}
	fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	p.width = 0
}
