package cli

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// frontPageMaxLines bounds the README's front page; the details live in
// docs/.
const frontPageMaxLines = 200

// literals matches a cell of backticked values only: `a`, `b`.
var literals = regexp.MustCompile("^`[^`]*`(, `[^`]*`)*$")

// sameDefault reports whether the README's default is the flag's, a
// duration in any spelling (60s is 1m0s).
func sameDefault(readme, def string) bool {
	if readme == def {
		return true
	}
	a, errA := time.ParseDuration(readme)
	b, errB := time.ParseDuration(def)
	return errA == nil && errB == nil && a == b
}

// readmeFlag matches a flag the README spells (--flag).
var readmeFlag = regexp.MustCompile("`(--[a-z][a-z0-9-]*)")

// TestReadmeFlags: the README's front page is short, every flag it names
// exists (in serve or a debug verb), and each default its flag table
// states is the flag's default.
func TestReadmeFlags(t *testing.T) {
	raw, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if n := strings.Count(text, "\n"); n >= frontPageMaxLines {
		t.Errorf("README.md has %d lines; want under %d (move details to docs/)", n, frontPageMaxLines)
	}
	serve := newServeFlags(&serveConfig{})
	lookup := func(name string) *flag.Flag {
		if f := serve.Lookup(name); f != nil {
			return f
		}
		for verb := range commands {
			if verb == "serve" {
				continue
			}
			fs, _ := newDebugFlags(verb, verb, func(string) string { return "" })
			if f := fs.Lookup(name); f != nil {
				return f
			}
		}
		switch name {
		case "ready", "wide", "client", "x", "name", "node", "container", "node-address", "help":
			return &flag.Flag{Name: name} // verbs' own flags, and every verb's --help
		case "hostname":
			return &flag.Flag{Name: name} // docker run's, which the names table names
		}
		return nil
	}
	for _, m := range readmeFlag.FindAllStringSubmatch(text, -1) {
		if lookup(strings.TrimPrefix(m[1], "--")) == nil {
			t.Errorf("README.md names %s, which no verb has", m[1])
		}
	}

	// The flag table: | `--a`, `--b` | `default`, `default` | what |
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		rows++
		names := readmeFlag.FindAllStringSubmatch(cells[1], -1)
		defaults := regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(cells[2], -1)
		stated := strings.TrimSpace(cells[2])
		for i, n := range names {
			f := serve.Lookup(strings.TrimPrefix(n[1], "--"))
			if f == nil {
				t.Errorf("flag table: %s is not a flag of serve", n[1])
				continue
			}
			switch {
			case len(defaults) == len(names) && literals.MatchString(stated):
				if got := defaults[i][1]; !sameDefault(got, f.DefValue) {
					t.Errorf("flag table: %s defaults to %q; the table says %q", n[1], f.DefValue, got)
				}
			case stated == "":
				if f.DefValue != "" && f.DefValue != "false" {
					t.Errorf("flag table: %s defaults to %q; the table states none", n[1], f.DefValue)
				}
			case stated == "off":
				if f.DefValue != "false" {
					t.Errorf("flag table: %s defaults to %q; the table says off", n[1], f.DefValue)
				}
			}
		}
	}
	if rows < 10 {
		t.Errorf("found %d rows in the README's flag table; want the main flags", rows)
	}
}
