package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table prints rows with aligned columns.
type table struct {
	tw *tabwriter.Writer
}

// newTable starts a table on w with the given column headers (none for a
// headerless one).
func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

// cellReplacer keeps a cell on one line and in one column.
var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ")

// row adds one row; empty cells print as "-". Tabs and newlines inside a
// cell are replaced so they cannot break the layout.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		c = cellReplacer.Replace(c)
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, c)
	}
	io.WriteString(t.tw, "\n")
}

// cont adds a continuation row: the cells of the row above it that go on
// (a second name, a second address); empty cells stay blank.
func (t *table) cont(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cellReplacer.Replace(c))
	}
	io.WriteString(t.tw, "\n")
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }

// shortID shortens a container ID the way `docker ps` does.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// fmtAgo renders how long before now t was ("4s ago"); "" for the zero time.
func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + roundDuration(-d).String()
	}
	return roundDuration(d).String() + " ago"
}

// fmtUntil renders how long after now t is ("in 45s"); "" for the zero time.
func fmtUntil(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	if d < 0 {
		return roundDuration(-d).String() + " ago"
	}
	return "in " + roundDuration(d).String()
}

// roundDuration keeps a duration readable: whole seconds above a minute,
// tenths of a second above a second, milliseconds below.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// fmtSeconds renders a duration given in seconds, with a precision that fits
// its size ("850µs", "12.3ms", "1.2s").
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// flushTable flushes t and returns the verb's exit code.
func flushTable(t *table, stderr io.Writer, verb string) int {
	if err := t.flush(); err != nil {
		fmt.Fprintf(stderr, "swarmdns %s: write output: %v\n", verb, err)
		return exitError
	}
	return exitOK
}

// blank adds an empty line.
func (t *table) blank() { io.WriteString(t.tw, "\n") }
