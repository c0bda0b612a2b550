// Package logtest is a goroutine-safe sink for JSON log lines that tests
// assert on: which lines were logged, at which level, with which fields.
package logtest

import (
	"bytes"
	"encoding/json"
	"sync"
)

// Buffer collects what a logger writes; it is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Line is one decoded JSON log line.
type Line map[string]any

// Level is the line's level field ("" when it has none).
func (l Line) Level() string { s, _ := l["level"].(string); return s }

// Message is the line's message field.
func (l Line) Message() string { s, _ := l["message"].(string); return s }

// Lines decodes every JSON line written so far; lines that are not JSON
// objects are returned as a Line holding only "message".
func (b *Buffer) Lines() []Line {
	var out []Line
	for _, raw := range bytes.Split([]byte(b.String()), []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(raw, &l); err != nil {
			l = Line{"message": string(raw)}
		}
		out = append(out, l)
	}
	return out
}

// AtLevel returns the lines logged at one of levels.
func (b *Buffer) AtLevel(levels ...string) []Line {
	var out []Line
	for _, l := range b.Lines() {
		for _, lvl := range levels {
			if l.Level() == lvl {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
